"""Playbooks: the schema (``model``), YAML and custom-resource loading (``loader``), the registry,
sandboxed param templating (``templating``), validation for the CLI (``validate``), and running
them: the ``executor`` (the run loop) holds a ``reads.ReadPath``, a ``writes.WritePath`` (with
``verifying.AfterWrite``) and a ``recovery.Recovery``, which all record through one
``book.RunBook`` into the ``runs`` store; ``planning`` builds action contexts and plans."""
