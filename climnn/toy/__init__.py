"""Toy systems for parameterization experiments (issue 17). Placeholder of the Lorenz-96
branch; the logistic-map branch owns this file."""
