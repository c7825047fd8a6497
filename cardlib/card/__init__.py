"""The issuer side: personalization of a resident into a signed CardImage, its inputs, portraits and chip targets.

The data of a card, under the chip and the reader that serve and read it; writing an image onto a physical
card, which reads it back and verifies it, is the production line's (:mod:`cardlib.batch.encode`).
"""
