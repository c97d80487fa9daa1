"""Import and export of the JSON document of SPEC §5.

* :mod:`db.io.validate` — the document as pydantic models (field types in
  :mod:`db.io.fields`) plus one table of cross-record rules
  (:mod:`db.io.checks`): every problem at once, each with its JSON path.
* :mod:`db.io.load` — upsert of a valid document in one transaction
  (:mod:`db.io.rows` flattens it, :mod:`db.io.existing` reads and checks
  what is stored, :mod:`db.io.bulk` writes).
* :mod:`db.io.export` — the database as a document, and its canonical JSON.
"""

from db.io.export import dump_json, export_document
from db.io.load import LoadResult, load_document
from db.io.validate import ImportValidationError, validate_document

__all__ = [
    "ImportValidationError",
    "LoadResult",
    "dump_json",
    "export_document",
    "load_document",
    "validate_document",
]
