"""The job building blocks a caller may choose (apps, partitioners, assemblers), each with its params' JSON schema.

The schemas describe exactly the params each block's own `check_params` accepts (a test holds them
together), so a form built from them (the portal's "New job") asks for what the API will take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Format = Literal["csv", "jsonl", "parquet"]


class BlockParams(BaseModel):
    """Params are written as the API takes them (no camelCase), unknown ones refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NoParams(BlockParams):
    """This block takes no params."""


class CopyParams(BlockParams):
    verify: Literal["size", "checksum"] = Field(
        default="size",
        description="size: compare sizes (always done); checksum: also read the copy back and compare SHA-256.",
    )


class ConvertParams(BlockParams):
    to: Format = Field(description="The format to write.")
    from_: Format | None = Field(
        default=None,
        alias="from",
        description="The input's format, when its name does not say (.csv, .jsonl, .parquet).",
    )


class PythonParams(BlockParams):
    function: str = Field(
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        max_length=255,
        description="module:function of a package installed on the hub (or in HEADWATER_SANDBOX_PATH), run in a sandbox.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="An object passed to the function (at most 64 KiB of JSON)."
    )
    suffix: str | None = Field(
        default=None, pattern=r"^\.[A-Za-z0-9]{1,16}$", description="A new extension for each output, such as .txt."
    )


class SizeParams(BlockParams):
    bytes: int = Field(ge=1, description="Bytes per partition: each file is cut into ranges of this size.")


class RowsParams(BlockParams):
    rows: int = Field(ge=1, description="Rows per partition.")
    format: Format | None = Field(default=None, description="The input's format, when its name does not say.")


class ConcatenateParams(BlockParams):
    name: str | None = Field(
        default=None,
        max_length=255,
        description="The one output file's name (default: output, with the parts' extension).",
    )


class ZipParams(BlockParams):
    name: str | None = Field(default=None, max_length=255, description="The archive's file name (default: output.zip).")
    compression: Literal["deflate", "store"] = Field(
        default="deflate", description="deflate compresses; store only packs."
    )


@dataclass(frozen=True)
class Block:
    """One app, partitioner or assembler as a caller chooses it."""

    name: str
    title: str
    description: str
    params: type[BlockParams]

    def schema(self) -> dict[str, Any]:
        return self.params.model_json_schema(by_alias=True)


APPS: tuple[Block, ...] = (
    Block("copy", "Copy", "Copies each file byte for byte and verifies the copy.", CopyParams),
    Block("convert", "Convert", "Converts tables between CSV, JSON lines and Parquet.", ConvertParams),
    Block("python", "Python function", "Runs a Python function on each partition, in a sandbox.", PythonParams),
)

PARTITIONERS: tuple[Block, ...] = (
    Block("object", "One per file", "Each input file is one partition.", NoParams),
    Block("size", "By size", "Each file is cut into byte ranges of a given size.", SizeParams),
    Block("rows", "By rows", "Each table is cut into runs of a given number of rows.", RowsParams),
)

ASSEMBLERS: tuple[Block, ...] = (
    Block(
        "passthrough", "Keep each output", "Each partition's output is written to the destination as it is.", NoParams
    ),
    Block("concatenate", "Concatenate", "The outputs are joined, in order, into one file.", ConcatenateParams),
    Block("zip", "Zip archive", "The outputs are packed into one zip archive.", ZipParams),
)
