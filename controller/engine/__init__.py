"""The rollout engine: a pure function of (rollout, observations, now) to (new status, actions).

`decide` and `due_measurements` live in `controller.engine.decide`; the actions it returns in
`controller.engine.actions`, what the driver observes in `controller.engine.inputs`. The
package itself imports nothing, so the adapters can import the action and input models alone.
"""

__all__: list[str] = []
