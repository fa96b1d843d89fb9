"""The training loader: every sample once an epoch, the seed network's vectors normalized as
numpy does it, clear errors, and "the result trains like our own data": the same small
network learns from converted ClimSim and CBRAIN files as from a teacher run.
"""

import numpy as np
import pytest
import torch
import xarray as xr
from test_data_schema import NCOL, NLEV, NTIME, make_dataset

from climnn.data import DatasetError, compute_statistics, write_store
from climnn.data.convert import convert_cbrain, convert_climsim
from climnn.data.loader import ColumnDataset, shuffled_batches
from climnn.data.stats import CP, LV
from climnn.data.synthetic import climsim_grid_info, climsim_pair, spcam_file

NSAMPLE = NTIME * NCOL


def identified_dataset():
    """make_dataset with SOLIN = the sample's index t * NCOL + c (to trace samples) and a
    temperature constant on the top level (std 0)."""
    ds = make_dataset()
    ds["SOLIN"].values[:] = np.arange(NSAMPLE, dtype=np.float32).reshape(NTIME, NCOL)
    ds["T"].values[:, :, 0] = 200.0
    return ds


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = write_store(identified_dataset(), tmp_path_factory.mktemp("loader") / "data.zarr")
    compute_statistics(path)
    return path


def sample_ids(dataset, batches):
    where = dataset.input_layout.slices["SOLIN"]
    ids = [dataset.input_layout.denormalize(x.numpy())[:, where].ravel() for x, _ in batches]
    return np.rint(np.concatenate(ids)).astype(int)


# --------------------------------------------------------------------------- epochs


@pytest.mark.parametrize("workers", [0, 2])
def test_every_sample_once_an_epoch_with_shuffling(store, workers):
    dataset = ColumnDataset(store, batch_size=7, buffer_size=50, seed=3, read_samples=2 * NCOL)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers)
    orders = []
    for epoch in (0, 1, 0):
        dataset.set_epoch(epoch)
        ids = sample_ids(dataset, loader)
        np.testing.assert_array_equal(np.sort(ids), np.arange(NSAMPLE))
        orders.append(ids)
    assert not np.array_equal(orders[0], np.arange(NSAMPLE))  # shuffled
    assert not np.array_equal(orders[0], orders[1])  # a new order each epoch
    np.testing.assert_array_equal(orders[0], orders[2])  # reproducible
    first_batch = orders[0][:7]
    assert len(np.unique(first_batch // (2 * NCOL))) > 1  # the buffer mixes reads


def test_shards_and_workers_split_without_duplicates(store):
    ids = []
    for rank in range(2):
        dataset = ColumnDataset(store, batch_size=8, buffer_size=40, shard=(rank, 2),
                                read_samples=NCOL)
        loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2)
        ids.append(sample_ids(dataset, loader))
    np.testing.assert_array_equal(np.sort(np.concatenate(ids)), np.arange(NSAMPLE))
    assert min(map(len, ids)) > 0


@pytest.mark.parametrize("buffer_size", [1, 10, 35, 1000])
def test_shuffle_buffer_yields_every_row_once_in_full_batches(buffer_size):
    blocks = [(np.arange(b, b + 10)[:, None], -np.arange(b, b + 10)[:, None])
              for b in range(0, 100, 10)]
    batches = list(shuffled_batches(blocks, 8, buffer_size, np.random.default_rng(0)))
    x = np.concatenate([b[0] for b in batches]).ravel()
    y = np.concatenate([b[1] for b in batches]).ravel()
    np.testing.assert_array_equal(np.sort(x), np.arange(100))
    np.testing.assert_array_equal(y, -x)  # inputs and outputs stay paired
    assert [len(b[0]) for b in batches[:-1]] == [8] * (len(batches) - 1)
    if buffer_size >= 20:  # the buffer holds two blocks or more: they mix
        assert len(np.unique(batches[0][0] // 10)) > 1
    in_order = list(shuffled_batches(blocks, 8, buffer_size, None))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in in_order]).ravel(),
                                  np.arange(100))


# --------------------------------------------------------------------------- vectors


def test_seed_layout_and_shapes(store):
    dataset = ColumnDataset(store, batch_size=16)
    inputs, outputs = dataset.input_layout, dataset.output_layout
    assert inputs.names == ("T", "Q", "U", "V", "PS", "SOLIN", "SHFLX", "LHFLX")
    assert outputs.names == ("TPHYSTND", "PHQ", "FSNT", "FSNS", "FLNT", "FLNS", "PRECT")
    assert inputs.levels == (NLEV,) * 4 + (1,) * 4 and inputs.size == 4 * NLEV + 4
    assert outputs.size == 2 * NLEV + 5
    assert inputs.slices["PS"] == slice(4 * NLEV, 4 * NLEV + 1)
    assert outputs.slices["PHQ"] == slice(NLEV, 2 * NLEV)
    x, y = next(iter(dataset))
    assert x.shape == (16, inputs.size) and y.shape == (16, outputs.size)
    assert x.dtype == y.dtype == torch.float32
    assert dataset.n_samples == NSAMPLE
    assert inputs.as_metadata()["units"][0] == "K"


@pytest.mark.parametrize("read_samples", [1, 3 * NCOL, 8192])
def test_normalization_equals_numpy_and_round_trips(store, read_samples):
    dataset = ColumnDataset(store, batch_size=NSAMPLE, shuffle=False, read_samples=read_samples)
    (x, y), = list(dataset)
    data = xr.open_zarr(store, consolidated=False).load()

    def flat(name):
        return data[name].values.astype(np.float64).reshape(NSAMPLE, -1)

    def standardized(name):
        values = flat(name)
        std = values.std(axis=0)
        return (values - values.mean(axis=0)) / np.where(std > 0, std, 1.0)

    inputs, outputs = dataset.input_layout, dataset.output_layout
    for name in inputs.names:
        np.testing.assert_allclose(x[:, inputs.slices[name]], standardized(name), rtol=1e-5,
                                   atol=1e-5, err_msg=name)
    assert np.all(x[:, 0].numpy() == 0.0)  # the constant top temperature: centred only
    scales = {"TPHYSTND": CP, "PHQ": LV, "PRECT": LV * 1e-3, "FSNT": 1e-3, "FLNS": 1e-3}
    for name, scale in scales.items():
        np.testing.assert_allclose(y[:, outputs.slices[name]], flat(name) * scale, rtol=1e-6,
                                   err_msg=name)
    for layout, vectors in ((inputs, x), (outputs, y)):
        back = layout.denormalize(vectors.numpy())
        for name in layout.names:
            np.testing.assert_allclose(back[:, layout.slices[name]], flat(name), rtol=1e-6,
                                       atol=1e-6 * np.abs(flat(name)).max(), err_msg=name)


def test_chosen_variables_and_times(store):
    dataset = ColumnDataset(store, ["T", "SST"], ["PRECT"], times=range(2, 4), batch_size=100)
    x, y = next(iter(dataset))
    assert dataset.input_layout.names == ("T", "SST") and x.shape == (2 * NCOL, NLEV + 1)
    assert y.shape == (2 * NCOL, 1) and dataset.n_samples == 2 * NCOL


# --------------------------------------------------------------------------- errors


def test_missing_statistics_say_run_climnn_stats(tmp_path):
    path = write_store(make_dataset(), tmp_path / "nostats.zarr")
    with pytest.raises(DatasetError, match=r"nostats\.zarr: no statistics.*run `climnn stats "
                       r".*nostats\.zarr`"):
        ColumnDataset(path)


def test_missing_or_misplaced_variable_is_named(tmp_path, store):
    path = write_store(make_dataset().drop_vars(["U", "FSNT", "FLNT"]), tmp_path / "s.zarr",
                       require_outputs=False)
    compute_statistics(path)
    dataset = ColumnDataset(path)  # the seed defaults leave out what the store lacks
    assert "U" not in dataset.input_layout.names and "FSNT" not in dataset.output_layout.names
    with pytest.raises(DatasetError, match=r"s\.zarr: input variable 'U' .*not in the store"):
        ColumnDataset(path, inputs=["T", "U"])
    with pytest.raises(DatasetError, match=r"s\.zarr: output variable 'FLNT' .*not in the store"):
        ColumnDataset(path, outputs=["FLNT"])
    with pytest.raises(DatasetError, match=r"data\.zarr: variable 'T' is an input"):
        ColumnDataset(store, outputs=["T"])
    with pytest.raises(DatasetError, match=r"data\.zarr: input variable 'TBP' is not a schema"):
        ColumnDataset(store, inputs=["TBP"])


# --------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Stores of the three sources, with statistics: converted ClimSim (8 steps x 256
    columns, 10 levels) and CBRAIN files (8 steps x 16 x 32 columns, 10 levels), whose
    outputs follow climnn.data.synthetic's made-up physics, and a half-day T21 teacher run
    (5 samples x 2048 columns, 25 levels)."""
    from test_generate import small_config

    from climnn.data.generate import generate

    folder = tmp_path_factory.mktemp("sources")
    grid = climsim_grid_info(folder / "ClimSim_low-res_grid-info.nc", 256, 10)
    mli = [climsim_pair(folder, f"0001-02-01-{1200 * k:05d}", k, 256, 10)[0] for k in range(8)]
    spcam = [spcam_file(folder / f"spcam_{k}.nc", 4 * k, k, 4, 16, 32, 10) for k in range(2)]
    stores = {
        "climsim": convert_climsim(mli, folder / "climsim.zarr", grid_info=grid),
        "cbrain": convert_cbrain(spcam, folder / "cbrain.zarr"),
        "teacher": generate(small_config(), folder / "teacher.zarr", days=0.5, every=4,
                            progress=False).path,
    }
    for path in stores.values():
        compute_statistics(path)
    return stores


def train_and_score(store, steps=300, seed=0) -> float:
    """Train a small MLP on all time steps but the last; return its MSE on the last one over
    the MSE of predicting that step's mean (both in the loader's output units)."""
    last = xr.open_zarr(store, consolidated=False).sizes["time"] - 1
    train = ColumnDataset(store, batch_size=128, buffer_size=4096, times=range(last), seed=seed)
    torch.manual_seed(seed)
    n_in, n_out = train.input_layout.size, train.output_layout.size
    net = torch.nn.Sequential(torch.nn.Linear(n_in, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, n_out))
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    step, epoch = 0, 0
    while step < steps:
        train.set_epoch(epoch)
        for x, y in train:
            loss = torch.nn.functional.mse_loss(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step == steps:
                break
        epoch += 1
    held_out = ColumnDataset(store, times=[last], shuffle=False, batch_size=10**6,
                             check_values=False)
    (x, y), = list(held_out)
    with torch.no_grad():
        error = torch.nn.functional.mse_loss(net(x), y)
    return float(error / ((y - y.mean(dim=0)) ** 2).mean())


@pytest.mark.parametrize("source", ["climsim", "cbrain", "teacher"])
def test_trains_like_our_own_data(sources, source):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        score = train_and_score(sources[source])
    finally:
        torch.set_num_threads(threads)
    print(f"{source}: held-out MSE / MSE of the mean = {score:.3f}")
    assert score < 0.5


# --------------------------------------------------------------------------- pooled stores


@pytest.fixture(scope="module")
def second_store(tmp_path_factory):
    """Another run's store (other values, later dates, no statistics): SOLIN numbers its
    samples NSAMPLE, NSAMPLE + 1, ... so that both stores' samples are told apart."""
    ds = make_dataset(ntime=4, seed=5, start="2000-02-01")
    ds["SOLIN"].values[:] = NSAMPLE + np.arange(4 * NCOL, dtype=np.float32).reshape(4, NCOL)
    return write_store(ds, tmp_path_factory.mktemp("loader") / "second.zarr")


@pytest.mark.parametrize("workers", [0, 2])
def test_pooled_stores_give_every_sample_of_each_once_normalized_by_the_first(
        store, second_store, workers):
    alone = ColumnDataset(store, shuffle=False, batch_size=10**6)
    pooled = ColumnDataset([store, second_store], times=[range(1, 5), [0, 2, 3]],
                           batch_size=9, buffer_size=60, seed=1, read_samples=NCOL)
    assert pooled.n_samples == 7 * NCOL
    for name in ("input_layout", "output_layout"):  # the first store's statistics
        np.testing.assert_array_equal(getattr(pooled, name).factor, getattr(alone, name).factor)
    loader = torch.utils.data.DataLoader(pooled, batch_size=None, num_workers=workers)
    ids = sample_ids(pooled, loader)
    expected = np.concatenate([np.arange(NCOL, 5 * NCOL)]
                              + [NSAMPLE + t * NCOL + np.arange(NCOL) for t in (0, 2, 3)])
    np.testing.assert_array_equal(np.sort(ids), expected)
    first = ids[:len(ids) // 2]
    assert (first < NSAMPLE).any() and (first >= NSAMPLE).any()  # the stores shuffled together
    # the second store's values, normalized with the first's shift and factor
    raw = xr.open_zarr(second_store, consolidated=False)
    x, _ = pooled.read_times(np.array([2]), part=1)
    t = pooled.input_layout.slices["T"]
    np.testing.assert_allclose(x[:, t], alone.input_layout.normalize(
        np.concatenate([raw["T"].values[2], np.zeros((NCOL, x.shape[1] - NLEV))], axis=1)
    )[:, :NLEV], rtol=1e-5, atol=1e-5)


def test_stores_that_cannot_be_pooled_are_named(store, tmp_path):
    fewer = write_store(make_dataset(nlev=NLEV - 1), tmp_path / "fewer.zarr")
    with pytest.raises(DatasetError, match=r"fewer\.zarr: .*levels"):
        ColumnDataset([store, fewer])
    stretched = make_dataset()
    stretched["hybi"] = ("ilev", np.linspace(0.0, 1.0, NLEV + 1) ** 1.5)
    stretched = write_store(stretched, tmp_path / "stretched.zarr")
    with pytest.raises(DatasetError, match=r"stretched\.zarr: its hybi differs from that of "
                                           r".*data\.zarr, the first store"):
        ColumnDataset([store, stretched])
    excluded = make_dataset()
    excluded.attrs["surface_flux_convention"] = "excluded"
    excluded = write_store(excluded.drop_vars(["SHF", "LHF"]), tmp_path / "excluded.zarr")
    with pytest.raises(DatasetError, match=r"excluded\.zarr: its targets are in the "
                                           r"surface-flux convention 'excluded'"):
        ColumnDataset([store, excluded])
    lacking = write_store(make_dataset().drop_vars(["U"]), tmp_path / "lacking.zarr")
    with pytest.raises(DatasetError, match=r"lacking\.zarr: input variable 'U'"):
        ColumnDataset([store, lacking])
    with pytest.raises(DatasetError, match="2 stores but 1 sets of times"):
        ColumnDataset([store, lacking], times=[range(2)])
    with pytest.raises(DatasetError, match="named twice"):
        ColumnDataset([store, store])
