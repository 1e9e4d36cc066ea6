"""The ModelRollout traffic-splitting router (data plane)."""
