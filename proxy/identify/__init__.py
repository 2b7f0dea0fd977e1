"""Which stack is talking: JA4/JA4S fingerprints of the hellos (:mod:`.ja4`) and a guess
of the implementation from a data file of known WebRTC stacks (:mod:`.stacks`).

Sans-IO: parsed hello bodies in, strings and :class:`proxy.events.StackGuess` out.
"""
