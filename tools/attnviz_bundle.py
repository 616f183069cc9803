"""Save a model's attention as an attnviz bundle (README "Attention bundles").

Depends on NumPy only. Tensors may be NumPy arrays or anything with ``.numpy()`` (PyTorch
tensors, also on the GPU or requiring grad), and ``attention`` may be the tuple of per-layer
tensors that Hugging Face models return with ``output_attentions=True``.

    from attnviz_bundle import save_bundle
    save_bundle("run.npz", tokens, outputs.attentions)          # then: attnviz run.npz
"""

import json
import struct

import numpy as np

FORMAT_VERSION = 1

__all__ = ["save_bundle", "load_bundle", "FORMAT_VERSION"]


def _to_numpy(x, name):
    """An array from NumPy input, a tensor (detached, moved to the CPU) or a nested list."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu"):
        x = x.cpu()
    if hasattr(x, "float") and getattr(x, "dtype", None) is not None and "bfloat16" in str(x.dtype):
        x = x.float()  # NumPy has no bfloat16
    if hasattr(x, "numpy"):
        return np.asarray(x.numpy())
    if isinstance(x, (list, tuple)):
        return np.stack([_to_numpy(item, name) for item in x])
    raise TypeError(f"{name}: expected a NumPy array or a tensor, got {type(x).__name__}")


def _per_layer(x, name):
    """A tuple/list of per-layer tensors (Hugging Face's outputs.attentions) stacked on axis 0."""
    if isinstance(x, (list, tuple)):
        layers = [_to_numpy(item, f"{name}[{i}]") for i, item in enumerate(x)]
        shapes = {layer.shape for layer in layers}
        if len(shapes) != 1:
            raise ValueError(f"{name}: the layers have different shapes {sorted(shapes)}")
        # Hugging Face gives each layer as [batch, H, n, m]: the stacked batch axis is axis 1.
        stacked = np.stack(layers)
        if stacked.ndim == 5:
            stacked = _drop_batch(stacked, name, axis=1)
        return stacked
    return _to_numpy(x, name)


def _drop_batch(a, name, axis=0):
    if a.shape[axis] != 1:
        raise ValueError(
            f"{name}: the batch axis has {a.shape[axis]} examples; a bundle holds one: "
            f"pass {name}[{'' if axis == 0 else ':, '}i] for example i")
    return np.take(a, 0, axis=axis)


def _attention_like(x, name, max_rank):
    a = _per_layer(x, name)
    if a.ndim == max_rank + 1:
        a = _drop_batch(a, name)
    if a.ndim > max_rank:
        raise ValueError(f"{name}: {a.ndim}-D {list(a.shape)}; expected at most {max_rank} axes")
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name}: dtype {a.dtype} is not numeric")
    if a.dtype not in (np.float16, np.float32, np.float64):
        a = a.astype(np.float32)
    return np.ascontiguousarray(a)


def _labels(tokens, name):
    if tokens is None:
        return None
    if isinstance(tokens, np.ndarray) and tokens.dtype.kind in "US":
        values = tokens
    else:
        if hasattr(tokens, "tolist") and not isinstance(tokens, (list, tuple)):
            tokens = tokens.tolist()
        values = [t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t) for t in tokens]
    array = np.array(values, dtype=str)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected one label per token, got shape {list(array.shape)}")
    return array


def save_bundle(path, tokens, attention, q=None, k=None, v=None, mask=None, metadata=None,
                query_tokens=None, key_tokens=None, dtype=np.float32):
    """Writes ``path`` (.npz, or .safetensors when the path ends so).

    attention: [L, H, n, m], [H, n, m] or [n, m] (a batch axis of size 1 is dropped; a tuple of
    per-layer tensors is stacked). tokens: n labels (self-attention), or None with query_tokens
    (n) and key_tokens (m). q, k: [L, H, n|m, d_head]; v: [L, H, m, d_v], leading axes as
    attention's. mask: [n, m], True/1 = may attend. metadata: a dict (stored as JSON) or a str.
    """
    arrays = {"attention": _attention_like(attention, "attention", 4).astype(dtype)}
    rank = arrays["attention"].ndim
    for name, value in (("q", q), ("k", k), ("v", v)):
        if value is not None:
            arrays[name] = _attention_like(value, name, rank).astype(dtype)
    if mask is not None:
        m = _to_numpy(mask, "mask")
        if m.ndim == 3 and m.shape[0] == 1:
            m = m[0]
        arrays["mask"] = np.ascontiguousarray(m != 0 if m.dtype != np.bool_ else m)
    if tokens is not None and (query_tokens is not None or key_tokens is not None):
        raise ValueError("give tokens (self-attention) or query_tokens and key_tokens, not both")
    labels = {"tokens": _labels(tokens, "tokens"), "query_tokens": _labels(query_tokens, "query_tokens"),
              "key_tokens": _labels(key_tokens, "key_tokens")}
    labels = {k: v for k, v in labels.items() if v is not None}
    if metadata is None:
        meta_text = None
    elif isinstance(metadata, str):
        meta_text = metadata
    else:
        meta_text = json.dumps(metadata, default=str)

    path = str(path)
    if path.endswith(".safetensors"):
        _write_safetensors(path, arrays, labels, meta_text)
    else:
        out = dict(arrays)
        out.update(labels)
        out["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
        if meta_text is not None:
            out["metadata"] = np.array(meta_text)
        np.savez_compressed(path, **out)
    return path


_SAFETENSORS_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.float64): "F64"}


def _write_safetensors(path, arrays, labels, meta_text):
    header = {"__metadata__": {"format_version": str(FORMAT_VERSION)}}
    for name, values in labels.items():
        header["__metadata__"][name] = json.dumps(values.tolist(), ensure_ascii=False)
    if meta_text is not None:
        header["__metadata__"]["metadata"] = meta_text
    blobs, offset = [], 0
    for name, a in arrays.items():
        if a.dtype == np.bool_ or a.dtype not in _SAFETENSORS_DTYPES:
            a = a.astype(np.float32)  # attnviz reads a bundle's tensors as F32/F16/BF16
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        data = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _SAFETENSORS_DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def load_bundle(path):
    """The arrays of an .npz bundle as a dict (tokens as a list of str), for checking a file."""
    with np.load(str(path), allow_pickle=False) as z:
        out = {name: z[name] for name in z.files}
    for name in ("tokens", "query_tokens", "key_tokens"):
        if name in out:
            out[name] = [str(t) for t in out[name]]
    return out
