"""ONNX models (as `torch.onnx.export` writes CNNs, both exporters) as cnnc programs.

    reader.py      the file, read safely: size bound, protobuf, every tensor header and
                   external-data path checked, the graph a DAG in topological order
    tensors.py     tensor headers and values (external data only inside the model's folder)
    registry.py    one converter per ONNX op type (and opset where its meaning changed)
    layers.py      converters of Conv, ConvTranspose, Gemm/MatMul, the normalizations, pools,
                   Resize, Pad
    elementwise.py converters of the activations, arithmetic, Concat and identities
    shapes.py      converters of Flatten/Reshape/Transpose/... and folded shape arithmetic
    patterns.py    node patterns that are one statement (the erf GELU)
    values.py      what an ONNX value is during conversion (a computed tensor and its layout,
                   or a constant), and what converters share
    to_ir.py       the model as an imported network (importers/ir.py)
    model.py       convert(path) -> (program text, weights): what `cnnc from-onnx` runs
"""
