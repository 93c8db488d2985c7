"""The world's shared state: clock, directory, outbox, e-CPS registry. Plain objects, no I/O.

Every site's rules read and change this state; only the world (and its admin API) changes it
from outside a request.
"""
