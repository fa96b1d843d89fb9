"""Toy dynamical systems on which parameterization networks are cheap to explore: the
logistic map (``logistic``, ``logistic_network``, ``logistic_experiment``,
``logistic_plots``) and the two-scale Lorenz-96 system (``lorenz96*``), each run by
``climnn toy NAME`` (``climnn.toy.command``)."""
