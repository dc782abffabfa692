-- Pinned MCP tool definitions (issue 20): the hash of each catalogue server's tool definition
-- the first time the runtime saw it. A different definition later (a "rug pull") is withheld
-- and kept in pending_hash until an operator accepts it (`semibot-runtime mcp pins accept`).
CREATE TABLE mcp_tool_pins (
  server_id        text        NOT NULL,
  tool             text        NOT NULL,
  hash             text        NOT NULL,
  pinned_at        timestamptz NOT NULL DEFAULT now(),
  pending_hash     text,
  pending_seen_at  timestamptz,
  PRIMARY KEY (server_id, tool)
);

GRANT SELECT, INSERT, UPDATE ON mcp_tool_pins TO semibot_audit_writer;
GRANT SELECT ON mcp_tool_pins TO semibot_audit_reader;
