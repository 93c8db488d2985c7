"""The virtual CPS card (arrives with the card issue); imports nothing from harness or web."""
