"""The rollout engine: a pure function of (rollout, observations, now) to (new status, actions).

`decide` and `due_measurements` live in `controller.engine.decide` (with the upkeep each decision
carries, from `controller.engine.upkeep`), `decide_unreadable` for a spec that cannot be read in
`controller.engine.unreadable`; the actions they return in `controller.engine.actions`, what the
driver observes in `controller.engine.inputs`. The
package itself imports nothing, so the adapters can import the action and input models alone.
"""

__all__: list[str] = []
