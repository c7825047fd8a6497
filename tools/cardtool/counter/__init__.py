"""``cardtool counter``: the card check for officers at a counter, as a local web page.

A small web server bound to localhost shows the reader state live, takes the card's CAN (or MRZ), reads
and verifies the card, and shows whose card it is and whether it is genuine — then forgets it when the
card leaves the reader.  See :mod:`cardtool.counter.session` (the state machine),
:mod:`cardtool.counter.server` (HTTP) and :mod:`cardtool.counter.command` (the command line).
"""
