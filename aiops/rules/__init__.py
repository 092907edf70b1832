"""Rules: which events start which playbooks. ``model`` (the rules.yaml schema), ``loader`` (located
errors, checked against the playbook registry) and ``engine`` (compiled once; pure ``match``)."""
