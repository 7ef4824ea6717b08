"""Where traffic comes from: the :class:`~ramal.carrier.base.Carrier` protocol, the sandbox carriers
that script deterministic outcomes for calls and messages, the simulator loops that walk records along
their scripts, and CDR importers."""
