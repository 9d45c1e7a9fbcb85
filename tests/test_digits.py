"""The digits example in reduced form: a few epochs on real data, far above chance, and the
compiled numpy module predicts exactly what the trained model does."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits" / "digits.py"


def load_example():
    spec = importlib.util.spec_from_file_location("digits_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_digits_reduced(tmp_path):
    ex = load_example()
    model, history, acc, (x_te, y_te) = ex.train_model(epochs=3, seed=0, verbose=False)
    assert len(history) == 3 and history[-1]["loss"] < history[0]["loss"]
    assert acc > 0.6, acc  # chance is 0.1; the full run (40 epochs) reaches 0.99
    weights = tmp_path / "digits.safetensors"
    model.save_weights(weights)
    mods = ex.compile_modules(str(weights), str(tmp_path), backends=("numpy",))
    from numeric import another, assert_equal

    assert_equal(mods["numpy"](x_te).argmax(1), model(x_te).argmax(1), other=model(another(x_te)).argmax(1))
