"""RFC 9162 Merkle tree: Certificate Transparency test vectors and pymerkle as an oracle.

Test vectors (leaf inputs, roots for sizes 0..8, audit paths, consistency proofs) are
the RFC 6962 reference vectors of the Certificate Transparency project, as published in
transparency-dev/merkle: ``testonly/constants.go`` (LeafInputs, RootHashes,
NodeHashes) and ``proof/verify_test.go`` (inclusionProofs, consistencyProofs; leaf
numbers there are 1-based). The same inputs and roots are ``kInputs`` and
``kSHA256Roots`` in google/certificate-transparency ``cpp/merkletree/merkle_tree_test.cc``.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree, InvalidProof

from heatreuse.ledger.merkle import (
    EMPTY_ROOT_HASH,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# transparency-dev/merkle testonly/constants.go, LeafInputs()
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
# transparency-dev/merkle testonly/constants.go, RootHashes() (index = tree size)
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# transparency-dev/merkle testonly/constants.go, NodeHashes()[0] (the leaf hashes)
CT_LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
# transparency-dev/merkle proof/verify_test.go, inclusionProofs (0-based index here)
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]
# transparency-dev/merkle proof/verify_test.go, consistencyProofs
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def _hx(hashes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hashes]


def _reference_mth(leaves: list[bytes]) -> bytes:
    """Direct transcription of RFC 9162 2.1.1 MTH, used as a second implementation."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(
        b"\x01" + _reference_mth(leaves[:k]) + _reference_mth(leaves[k:])
    ).digest()


# -- CT test vectors ----------------------------------------------------------------


def test_empty_root_is_sha256_of_empty_string() -> None:
    assert EMPTY_ROOT_HASH.hex() == CT_ROOTS[0]
    assert root_hash([]).hex() == CT_ROOTS[0]
    assert MerkleTree().root_hash() == EMPTY_ROOT_HASH


@pytest.mark.parametrize("size", range(9))
def test_ct_roots_for_every_size(size: int) -> None:
    assert root_hash(CT_LEAVES[:size]).hex() == CT_ROOTS[size]
    assert MerkleTree(CT_LEAVES).root_hash(size).hex() == CT_ROOTS[size]


def test_ct_leaf_hashes() -> None:
    assert [leaf_hash(x).hex() for x in CT_LEAVES] == CT_LEAF_HASHES


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion_proofs(index: int, size: int, path: list[str]) -> None:
    leaves = CT_LEAVES[:size]
    assert inclusion_proof(index, leaves) == _hx(path)
    root = bytes.fromhex(CT_ROOTS[size])
    assert verify_inclusion(index, size, leaf_hash(leaves[index]), root, _hx(path))


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY)
def test_ct_consistency_proofs(old: int, new: int, path: list[str]) -> None:
    assert consistency_proof(old, CT_LEAVES[:new]) == _hx(path)
    old_root, new_root = bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new])
    assert verify_consistency(old, new, old_root, new_root, _hx(path))


def test_corrupted_inclusion_proofs_fail() -> None:
    # The probes of transparency-dev/merkle proof/verify_test.go corruptInclusionProof.
    index, size, path = CT_INCLUSION[1]
    proof = _hx(path)
    root = bytes.fromhex(CT_ROOTS[size])
    leaf = leaf_hash(CT_LEAVES[index])
    assert verify_inclusion(index, size, leaf, root, proof)
    some_hash = bytes.fromhex("abacaba0" + "0" * 56)
    probes = [
        (index - 1, size, leaf, root, proof),
        (index + 1, size, leaf, root, proof),
        (index ^ 2, size, leaf, root, proof),
        (index, size * 2, leaf, root, proof),
        (index, size // 2, leaf, root, proof),
        (index, size, leaf_hash(b"WrongLeaf"), root, proof),
        (index, size, leaf, EMPTY_ROOT_HASH, proof),
        (index, size, leaf, some_hash, proof),
        (index, size, leaf, root, [*proof, b""]),
        (index, size, leaf, root, [*proof, root]),
        (index, size, leaf, root, [b"", *proof]),
        (index, size, leaf, root, [root, *proof]),
        (index, size, leaf, root, proof[:-1]),
        (index, size, leaf, root, [proof[0], some_hash, *proof[1:]]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((index, size, leaf, root, flipped))
    for probe in probes:
        assert not verify_inclusion(*probe), probe


def test_corrupted_consistency_proofs_fail() -> None:
    # The probes of transparency-dev/merkle proof/verify_test.go corruptConsistencyProof.
    old, new, path = CT_CONSISTENCY[2]
    proof = _hx(path)
    r1, r2 = bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new])
    probes = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, b"WrongRoot", r2, proof),
        (old, new, r1, b"WrongRoot", proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((old, new, r1, r2, flipped))
    for probe in probes:
        assert not verify_consistency(*probe), probe


def test_consistency_edge_cases() -> None:
    # transparency-dev/merkle proof/verify_test.go TestVerifyConsistency table.
    r1, r2 = b"don't care 1", b"don't care 2"
    assert not verify_consistency(0, 0, r1, r2, [])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert verify_consistency(0, 0, r1, r1, [])
    assert verify_consistency(0, 1, r1, r2, [])
    assert verify_consistency(1, 1, r2, r2, [])
    assert not verify_consistency(1, 0, r1, r2, [])
    assert not verify_consistency(2, 1, r1, r2, [])
    assert not verify_consistency(1, 2, r1, r2, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT_HASH, EMPTY_ROOT_HASH, [EMPTY_ROOT_HASH])
    assert not verify_consistency(0, 1, EMPTY_ROOT_HASH, EMPTY_ROOT_HASH, [EMPTY_ROOT_HASH])
    assert not verify_consistency(1, 1, EMPTY_ROOT_HASH, EMPTY_ROOT_HASH, [EMPTY_ROOT_HASH])


def test_inclusion_edge_cases() -> None:
    h = leaf_hash(b"data")
    assert verify_inclusion(0, 1, h, h, [])
    assert not verify_inclusion(0, 0, h, h, [])
    assert not verify_inclusion(1, 1, h, h, [])
    assert not verify_inclusion(0, 1, h, b"", [])
    assert root_from_inclusion_proof(0, 1, h, []) == h


def test_tree_rejects_bad_arguments() -> None:
    tree = MerkleTree([b"a", b"b"])
    with pytest.raises(ValueError, match="tree size"):
        tree.root_hash(3)
    with pytest.raises(ValueError, match="leaf index"):
        tree.inclusion_proof(2)
    with pytest.raises(ValueError, match="old tree size"):
        tree.consistency_proof(3)
    with pytest.raises(ValueError, match="32 bytes"):
        tree.append_leaf_hash(b"short")


# -- independent implementations ------------------------------------------------------


def _pymerkle_tree(leaves: list[bytes]) -> InmemoryTree:
    tree = InmemoryTree(algorithm="sha256")
    for leaf in leaves:
        tree.append_entry(leaf)
    return tree


_leaves = st.lists(st.binary(max_size=12), min_size=1, max_size=70)


@settings(max_examples=60, deadline=None)
@given(leaves=_leaves, data=st.data())
def test_roots_and_inclusion_match_pymerkle(leaves: list[bytes], data: st.DataObject) -> None:
    ours = MerkleTree(leaves)
    theirs = _pymerkle_tree(leaves)
    n = len(leaves)
    size = data.draw(st.integers(1, n), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    root = ours.root_hash(size)
    assert root == theirs.get_root(size)
    assert root == _reference_mth(leaves[:size])

    proof = ours.inclusion_proof(index, size)
    leaf = leaf_hash(leaves[index])
    assert verify_inclusion(index, size, leaf, root, proof)
    # pymerkle's audit path is [leaf hash] + the RFC 9162 path (1-based index).
    pm_proof = theirs.prove_inclusion(index + 1, size)
    pm_proof.verify(leaf, root, index=index + 1, size=size)
    assert pm_proof.path[1:] == proof

    # A wrong leaf fails in both implementations.
    wrong = leaf_hash(leaves[index] + b"x")
    assert not verify_inclusion(index, size, wrong, root, proof)
    with pytest.raises(InvalidProof):
        pm_proof.verify(wrong, root)


@settings(max_examples=60, deadline=None)
@given(leaves=_leaves, data=st.data())
def test_consistency_matches_pymerkle(leaves: list[bytes], data: st.DataObject) -> None:
    ours = MerkleTree(leaves)
    theirs = _pymerkle_tree(leaves)
    n = len(leaves)
    new = data.draw(st.integers(1, n), label="new")
    old = data.draw(st.integers(1, new), label="old")
    old_root, new_root = ours.root_hash(old), ours.root_hash(new)
    proof = ours.consistency_proof(old, new)
    assert verify_consistency(old, new, old_root, new_root, proof)
    # pymerkle builds a differently shaped proof; both must accept the same roots.
    pm_proof = theirs.prove_consistency(old, new)
    pm_proof.verify(old_root, new_root, prior_size=old, later_size=new)

    # A forked history (one changed leaf before `old`) fails in both.
    forked = list(leaves)
    pos = data.draw(st.integers(0, old - 1), label="pos")
    forked[pos] = forked[pos] + b"!"
    forked_root = MerkleTree(forked).root_hash(old)
    assert not verify_consistency(old, new, forked_root, new_root, proof)
    with pytest.raises(InvalidProof):
        pm_proof.verify(forked_root, new_root)


def test_incremental_tree_equals_rebuilt_tree() -> None:
    leaves = [i.to_bytes(2, "big") for i in range(300)]
    tree = MerkleTree()
    for size, leaf in enumerate(leaves, start=1):
        tree.append(leaf)
        if size in (1, 2, 3, 64, 65, 127, 128, 129, 300):
            assert tree.root_hash() == _reference_mth(leaves[:size])
    for old in (1, 5, 64, 100, 255, 300):
        for new in (old, 256, 300):
            if new >= old:
                proof = tree.consistency_proof(old, new)
                assert verify_consistency(old, new, tree.root_hash(old), tree.root_hash(new), proof)


def test_hundred_thousand_leaves() -> None:
    n = 100_000
    leaves = [i.to_bytes(4, "big") for i in range(n)]
    tree = MerkleTree(leaves)
    assert tree.size == n
    assert tree.root_hash() == _reference_mth(leaves)
    root = tree.root_hash()
    for i in (0, 1, 65_535, 65_536, 99_998, n - 1):
        assert verify_inclusion(i, n, leaf_hash(leaves[i]), root, tree.inclusion_proof(i))
    for old in (1, 4096, 65_536, 99_999):
        proof = tree.consistency_proof(old)
        assert verify_consistency(old, n, tree.root_hash(old), root, proof)


def test_node_hash_definition() -> None:
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert root_hash([b"a", b"b"]) == node_hash(left, right)
