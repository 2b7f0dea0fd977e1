"""Beds for TURN mode: coturn's own client as the referee (``coturn``)."""
