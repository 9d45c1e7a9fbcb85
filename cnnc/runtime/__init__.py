"""Running compiled networks: the Model every backend returns, weights, exporting modules.

    model.py    compile_model() and Model
    weights.py  initial weights (Keras defaults), reading/writing/checking weights files
    export.py   writing a generated module and its weights beside it (`cnnc compile`), both or neither
    files.py    atomic writes, files written together, outputs that are inputs refused
"""
