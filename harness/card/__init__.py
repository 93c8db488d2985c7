"""The virtual CPS card as the harness handles it: profiles (YAML → card), readers, the vpcd socket,
the control API of ``card serve``, a synchronous host, and ``card run``."""
