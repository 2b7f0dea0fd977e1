"""Sans-IO sessions: flights, transcript, negotiated parameters, and the Tracker."""

from proxy.session.session import MessageRecord, Session
from proxy.session.tracker import Tracker

__all__ = ["MessageRecord", "Session", "Tracker"]
