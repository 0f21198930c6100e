"""Workflows that span rows or call the upstream, one module per workflow:

- `teams`: creating teams, roles, leaving and removing members;
- `invitations`: issuing, mailing and accepting invitation links;
- `keys`: testing an upstream key and choosing the team's default;
- `jobs`: pricing, starting and retrying generations (the pipeline takes over after);
- `sharing`: share links.

The money is in `generations.ledger`, the life of a job after the form in
`generations.pipeline`.
"""
