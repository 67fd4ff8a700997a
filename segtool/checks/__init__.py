"""Dataset validation: every consistency problem as a finding with a stable code."""
