"""fabric's policy pack (``pulumi preview --policy-pack policy``)."""
