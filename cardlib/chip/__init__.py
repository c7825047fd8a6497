"""The card side: a virtual CCCD chip that runs a CardImage, and transports that present it."""
