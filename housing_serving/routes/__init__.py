"""One router per resource: predict, explore, monitoring, ops (health, model card, metrics), admin."""
