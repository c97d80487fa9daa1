"""GraphQL types, inputs, enums and the schema object (``schema.schema``)."""
