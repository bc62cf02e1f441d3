import io

import numpy as np

from service.decoding.limits import ArrayLimits
from service.decoding.npy import NpyReader
from service.decoding.sources import ArraySource, ReorderedSource


def npy_source(array, name="samples"):
    buffer = io.BytesIO()
    np.save(buffer, array)
    buffer.seek(0)
    return NpyReader(buffer, name=name, limits=ArrayLimits(max_elements=10**6))


def test_array_source_chunks_along_the_first_axis():
    array = np.arange(14.0).reshape(7, 2)
    source = ArraySource(array, name="probabilities")
    assert source.shape == (7, 2)
    parts = list(source.chunks(3))
    assert [offset for offset, _ in parts] == [0, 3, 6]
    np.testing.assert_array_equal(np.concatenate([part for _, part in parts]), array)
    assert source.read_all() is array


def test_samples_sent_passes_first_are_read_pool_first():
    ntc = np.arange(5 * 3 * 2, dtype=np.float64).reshape(5, 3, 2)
    tnc = np.ascontiguousarray(ntc.transpose(1, 0, 2))
    source = ReorderedSource(npy_source(tnc), sent="TNC", wanted="NTC")
    assert source.shape == (5, 3, 2)
    parts = list(source.chunks(2))
    assert [offset for offset, _ in parts] == [0, 2, 4]
    np.testing.assert_array_equal(np.concatenate([part for _, part in parts]), ntc)


def test_samples_sent_classes_before_passes_stream_in_chunks():
    ntc = np.arange(5 * 3 * 2, dtype=np.float64).reshape(5, 3, 2)
    nct = np.ascontiguousarray(ntc.transpose(0, 2, 1))
    source = ReorderedSource(npy_source(nct), sent="NCT", wanted="NTC")
    assert source.shape == (5, 3, 2)
    parts = list(source.chunks(2))
    assert all(part.shape[1:] == (3, 2) for _, part in parts)
    np.testing.assert_array_equal(np.concatenate([part for _, part in parts]), ntc)


def test_reordered_read_all_transposes_the_whole_array():
    ntc = np.arange(4 * 2 * 3, dtype=np.float64).reshape(4, 2, 3)
    source = ReorderedSource(
        ArraySource(ntc.transpose(1, 0, 2), name="samples"), sent="TNC", wanted="NTC"
    )
    np.testing.assert_array_equal(source.read_all(), ntc)
    assert source.name == "samples"
