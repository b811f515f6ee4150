"""The running checksums reproduce the published values of each algorithm, however the input is split."""

from __future__ import annotations

import pytest

from headwater.api.s3 import checksums


def test_known_checksum_values_match_the_published_ones() -> None:
    # S3's documented examples: CRC32/CRC32C of "Hello world", SHA-1/SHA-256 via hashlib.
    for algorithm, expected in (("crc32", "i9aeUg=="), ("crc32c", "crUfeA==")):
        checksum = checksums.new(algorithm)
        checksum.update(b"Hello world")
        assert checksums.encode(checksum.digest()) == expected
    # xxhash64 of the empty input, its published seed-0 value.
    xx = checksums.new("xxhash64")
    assert xx.digest().hex() == "ef46db3751d8e999"
    # The CRC-64/NVME check value (of "123456789") from its specification.
    crc = checksums.new("crc64nvme")
    crc.update(b"12345")
    crc.update(b"6789")
    assert crc.digest().hex() == "ae8b14860a799888"


@pytest.mark.parametrize("algorithm", [*checksums.ALGORITHMS, "md5"])
def test_a_checksum_fed_in_pieces_equals_one_fed_whole_and_has_its_size(algorithm: str) -> None:
    data = bytes(range(256)) * 300
    whole, pieces = checksums.new(algorithm), checksums.new(algorithm)
    whole.update(data)
    for start in range(0, len(data), 4097):
        pieces.update(data[start : start + 4097])
    assert whole.digest() == pieces.digest()
    assert len(whole.digest()) == checksums.DIGEST_SIZES[algorithm]
    assert checksums.decode(checksums.encode(whole.digest())) == whole.digest()


def test_a_value_that_is_not_base64_decodes_to_none() -> None:
    assert checksums.decode("not base64!") is None
