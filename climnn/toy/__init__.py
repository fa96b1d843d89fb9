"""Toy dynamical systems on which parameterization networks are cheap to explore: the
logistic map (``logistic``, ``logistic_network``, ``logistic_experiment``,
``logistic_plots``), run by ``climnn toy NAME`` (``climnn.toy.command``)."""
