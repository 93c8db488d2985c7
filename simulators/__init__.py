"""The simulated parts of the chain: the CPS card (sans-IO) and the web services."""
