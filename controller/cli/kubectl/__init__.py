"""`kubectl modelrollout VERB`: look at rollouts and ask the controller for manual actions.

Actions never edit the spec (a GitOps tool owns it): they write the `modelrollout.io/request`
annotation, which the controller hands to the engine exactly once.
"""
