"""Image reading (PNG, JPG, DICOM; bad files), the bad-image policy and the view transform."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cbf.data.images import (IMAGENET_MEAN, IMAGENET_STD, BadImageLog, ImageTransform, minmax_uint8,
                             read_image)
from cbf.errors import DataError

NIH = ("00000001_000.png", "00027426_000.png")


# ---------------------------------------------------------------------------- reading

@pytest.mark.parametrize("name", NIH)
def test_real_nih_png(shared_data, name):
    img = read_image(shared_data / "nih" / name)
    assert img.dtype == np.uint8 and img.shape == (512, 512)
    assert img.std() > 20 and len(np.unique(img)) > 100


def test_real_dicom_monochrome1_is_inverted(shared_data):
    import pydicom

    path = shared_data / "dicom" / "RG1_UNCI.dcm"
    raw = pydicom.dcmread(path).pixel_array.astype(np.float64)
    img = read_image(path)
    assert img.dtype == np.uint8 and img.shape == raw.shape == (1955, 1841)
    assert img.min() == 0 and img.max() == 255 and img.std() > 20
    # MONOCHROME1: high stored values are dark, so output falls as the raw value rises
    assert np.corrcoef(raw[::8, ::8].ravel(), img[::8, ::8].ravel().astype(np.float64))[0, 1] < -0.9


def _write_dicom(path, pixels: np.ndarray, photometric="MONOCHROME2", **attrs):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    for k, v in attrs.items():
        setattr(ds, k, v)
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_dicom_rescale_and_window(tmp_path):
    ramp = np.tile(np.arange(0, 1001, dtype=np.uint16), (4, 1))  # stored values 0..1000
    # window 400..600 in rescaled units; slope 2 means stored 200..300
    _write_dicom(tmp_path / "a.dcm", ramp, RescaleSlope="2", RescaleIntercept="0",
                 WindowCenter="500", WindowWidth="200")
    img = read_image(tmp_path / "a.dcm")[0]
    assert (img[:195] == 0).all() and (img[305:] == 255).all()
    assert (np.diff(img[195:305].astype(int)) >= 0).all() and len(np.unique(img[195:305])) > 50
    _write_dicom(tmp_path / "b.dcm", ramp, photometric="MONOCHROME1", RescaleSlope="2",
                 RescaleIntercept="0", WindowCenter="500", WindowWidth="200")
    np.testing.assert_array_equal(read_image(tmp_path / "b.dcm")[0], 255 - img)


def test_dicom_without_window_is_min_max(tmp_path):
    ramp = np.tile(np.arange(100, 356, dtype=np.uint16), (3, 1))
    _write_dicom(tmp_path / "c.dcm", ramp)
    np.testing.assert_array_equal(read_image(tmp_path / "c.dcm")[0], np.arange(256, dtype=np.uint8))


def test_16bit_png_is_scaled_not_clipped(tmp_path):
    ramp = np.tile(np.linspace(1000, 4000, 300).astype(np.uint16), (20, 1))  # a 12-bit-ish range
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I")  # really stored 16-bit
    img = read_image(path)
    assert img.dtype == np.uint8 and img.shape == (20, 300)
    assert img.min() == 0 and img.max() == 255 and len(np.unique(img)) > 200
    assert (np.diff(img[0].astype(int)) >= 0).all()


def test_jpg_rgb_and_gray(tmp_path):
    gray = np.tile(np.linspace(0, 255, 128).astype(np.uint8), (96, 1))
    Image.fromarray(np.stack([gray] * 3, axis=-1)).save(tmp_path / "rgb.jpg", quality=95)
    Image.fromarray(gray).save(tmp_path / "gray.jpeg", quality=95)
    for name in ("rgb.jpg", "gray.jpeg"):
        img = read_image(tmp_path / name)
        assert img.dtype == np.uint8 and img.shape == (96, 128)
        assert np.abs(img.astype(int) - gray).max() <= 8


def test_jpg_draft_decoding_keeps_min_side(tmp_path):
    gray = np.tile(np.linspace(0, 255, 800).astype(np.uint8), (600, 1))
    Image.fromarray(gray).save(tmp_path / "big.jpg", quality=95)
    small = read_image(tmp_path / "big.jpg", min_side=140)
    assert small.shape == (150, 200)  # 1/4 scale: the smallest with both sides >= 140
    assert read_image(tmp_path / "big.jpg").shape == (600, 800)
    assert np.abs(small[75].astype(int) - gray[0, ::4]).max() <= 8


def test_palette_and_rgba_png(tmp_path):
    gray = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))
    Image.fromarray(gray).convert("P").save(tmp_path / "p.png")
    rgba = np.stack([gray] * 3 + [np.full_like(gray, 255)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    for name in ("p.png", "a.png"):
        img = read_image(tmp_path / name)
        assert img.shape == gray.shape and np.abs(img.astype(int) - gray).max() <= 2


def test_missing_file_names_it(tmp_path):
    with pytest.raises(DataError, match="not found") as info:
        read_image(tmp_path / "missing.png")
    assert str(tmp_path / "missing.png") in str(info.value)


@pytest.mark.parametrize("kind", ["truncated_png", "text_as_png", "truncated_dicom", "garbage_dcm"])
def test_corrupt_files_name_the_file(shared_data, tmp_path, kind):
    if kind == "truncated_png":
        path = tmp_path / "cut.png"
        path.write_bytes((shared_data / "nih" / NIH[0]).read_bytes()[:20_000])
    elif kind == "text_as_png":
        path = tmp_path / "text.png"
        path.write_text("not an image")
    elif kind == "truncated_dicom":
        path = tmp_path / "cut.dcm"
        path.write_bytes((shared_data / "dicom" / "RG1_UNCI.dcm").read_bytes()[:100_000])
    else:
        path = tmp_path / "junk.dcm"
        path.write_bytes(b"\x00" * 64 + b"junk" * 100)
    with pytest.raises(DataError) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_minmax_flat_image_is_zero():
    assert (minmax_uint8(np.full((3, 3), 7.0)) == 0).all()


# ---------------------------------------------------------------------------- bad-image policy

def test_bad_image_log_skip_records_and_summarises(shared_data, tmp_path):
    cut = tmp_path / "cut.png"
    cut.write_bytes((shared_data / "nih" / NIH[0]).read_bytes()[:20_000])
    log = BadImageLog("skip")
    assert log.read(shared_data / "nih" / NIH[1]).shape == (512, 512)
    assert log.read(cut) is None and log.read(tmp_path / "gone.png") is None
    assert log.read(cut) is None  # the same file counts once
    assert len(log) == 2 and [e.path for e in log.entries] == [str(cut), str(tmp_path / "gone.png")]
    text = log.summary()
    assert text.startswith("2 bad image(s) skipped") and str(cut) in text and "not found" in text
    assert [e.path for e in log.drain()] == [str(cut), str(tmp_path / "gone.png")] and log.drain() == []
    main = BadImageLog("skip")
    main.extend(log.entries + [("x.png", "worker saw it")])
    assert len(main) == 3 and main.to_json()[-1] == {"path": "x.png", "reason": "worker saw it"}
    assert BadImageLog("skip").summary() == "no bad images"


def test_bad_image_log_error_raises_naming_the_file(tmp_path):
    log = BadImageLog("error")
    with pytest.raises(DataError, match="gone.png"):
        log.read(tmp_path / "gone.png")
    with pytest.raises(DataError, match=r"^a\.png: boom$"):
        log.record("a.png", OSError("boom"))
    with pytest.raises(ValueError, match="on_bad_image"):
        BadImageLog("ignore")


# ---------------------------------------------------------------------------- transform

def test_eval_transform_shapes_and_normalisation():
    t = ImageTransform(64)
    views = [np.full((100, 80), 128, np.uint8), Image.fromarray(np.full((50, 70), 128, np.uint8)),
             np.full((90, 90, 3), 128, np.uint8)]
    x = t(views)
    assert x.shape == (3, 3, 64, 64) and x.dtype == torch.float32
    expect = (128 / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(x.mean(dim=(2, 3)), expect.expand(3, 3), atol=1e-5, rtol=0)
    assert torch.equal(x, t(views))  # eval is deterministic


def test_eval_transform_keeps_aspect_and_centre_crops():
    img = np.zeros((100, 200), np.uint8)
    img[25:75, 75:125] = 255  # a centred square
    x = ImageTransform(224)([img])[0, 0]
    white = x > 0.5
    rows, cols = white.any(1).nonzero().ravel(), white.any(0).nonzero().ravel()
    height, width = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
    assert abs(height - 112) <= 3 and abs(width - 112) <= 3 and white[112, 112]


def test_train_transform_is_reproducible_with_a_seeded_generator(shared_data):
    img = read_image(shared_data / "nih" / NIH[0])
    t = ImageTransform(96, train=True)
    a = t([img, img], generator=torch.Generator().manual_seed(7))
    b = t([img, img], generator=torch.Generator().manual_seed(7))
    c = t([img, img], generator=torch.Generator().manual_seed(8))
    assert a.shape == (2, 3, 96, 96) and torch.equal(a, b)
    assert not torch.equal(a, c) and not torch.equal(a[0], a[1])  # views drawn independently
    ev = ImageTransform(96)([img])[0]
    assert not torch.equal(a[0], ev)
    # mild: the augmented view still looks like the image
    assert torch.corrcoef(torch.stack([a[0, 0].ravel(), ev[0].ravel()]))[0, 1] > 0.5
    assert t([img]).shape == (1, 3, 96, 96)  # no generator: torch's global RNG


def test_transform_rejects_bad_input():
    t = ImageTransform(32)
    with pytest.raises(ValueError, match="at least one view"):
        t([])
    with pytest.raises(TypeError, match="uint8"):
        t([np.zeros((10, 10), np.float32)])
    with pytest.raises(ValueError, match="shape"):
        t([np.zeros((10, 10, 4), np.uint8)])
    with pytest.raises(ValueError, match="scale"):
        ImageTransform(32, scale=(0.0, 1.0))
