"""The data transformation of `src/data/` in pandas: the baseline of `npm run bench:transform`.

Usage: transform_pandas.py <input dir> <output dir>

Reads the same raw CSV files (sales, products, prices, events, client.json) and does the same work as
the TypeScript/DuckDB tasks validate → transform_* → segment → consolidate, with the same rules:
validation counts of every rule on every row, sales deduplicated (sum) and calendar-filled between
first and last sale, prices forward-filled through the horizon (with the carry-forward rule for the
future), the calendar with event flags, ABC + Syntetos–Boylan segmentation, and the consolidated
tables with the same static, known and unknown columns. Written as an experienced pandas user would:
vectorised throughout (categorical SKUs, numpy grids instead of per-SKU loops, merge_asof for the
forward fill, cumulative sums for the rolling statistics rather than groupby().rolling()).

Outputs are pickled DataFrames: Debian's pandas has no Parquet engine (no pyarrow or fastparquet
packages in bookworm), and pickle is pandas' fastest native format, so the baseline is not slowed by
its output format. Only the daily frequency with the default policies is implemented (what the
benchmark runs). Prints one JSON line: rows and seconds per phase.
"""

import json
import os
import sys
import time

import numpy as np
import pandas as pd

DAY = np.timedelta64(1, "D")


def grid(first, last, keys):
    """One row per key and day from first to last (inclusive), built with numpy, no Python loop."""
    first = np.asarray(first, dtype="datetime64[D]")
    last = np.asarray(last, dtype="datetime64[D]")
    lengths = np.maximum((last - first).astype(np.int64) + 1, 0)
    total = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    offsets = np.arange(total, dtype=np.int64) - starts
    days = np.repeat(first, lengths) + offsets.astype("timedelta64[D]")
    return np.repeat(np.asarray(keys), lengths), days.astype("datetime64[ns]")


def main(inp, out):
    timings = {}
    clock = time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    settings = {"frequency": "daily", "horizon": 28, "inactiveAfter": 56}
    path = os.path.join(inp, "client.json")
    if os.path.exists(path):
        with open(path) as f:
            settings.update(json.load(f))
    if settings["frequency"] != "daily":
        raise SystemExit("transform_pandas.py implements the daily frequency only")
    horizon, inactive_after = settings["horizon"], settings["inactiveAfter"]
    top_share, mid_share, adi_cut, cv2_cut = 0.8, 0.95, 1.32, 0.49

    # --- validate: every rule counted over every row, values read as text first ---
    raw = pd.read_csv(os.path.join(inp, "sales.csv"), dtype=str, keep_default_na=False)
    sku = raw["sku"].str.strip()
    date = pd.to_datetime(raw["date"], format="%Y-%m-%d", errors="coerce")
    quantity = pd.to_numeric(raw["quantity"], errors="coerce")
    revenue = pd.to_numeric(raw["revenue"], errors="coerce") if "revenue" in raw else None
    today = pd.Timestamp.now().normalize()
    problems = {
        "missing_value": int((sku == "").sum() + (raw["date"].str.strip() == "").sum()),
        "unparseable_date": int((date.isna() & (raw["date"].str.strip() != "")).sum()),
        "invalid_number": int((quantity.isna() | ~np.isfinite(quantity)).sum()),
        "negative_quantity": int((quantity < 0).sum()),
        "date_out_of_range": int(((date < "1970-01-01") | (date > today + pd.Timedelta(days=1))).sum()),
    }
    if revenue is not None:
        problems["invalid_number"] += int(((raw["revenue"] != "") & (revenue.isna() | ~np.isfinite(revenue))).sum())
    del raw
    prices_raw = pd.read_csv(os.path.join(inp, "prices.csv"), dtype=str, keep_default_na=False)
    p_sku = prices_raw["sku"].str.strip()
    p_date = pd.to_datetime(prices_raw["date"], format="%Y-%m-%d", errors="coerce")
    p_price = pd.to_numeric(prices_raw["price"], errors="coerce")
    p_promo = pd.to_numeric(prices_raw["promo"], errors="coerce")
    problems["unparseable_date"] += int(p_date.isna().sum())
    problems["invalid_number"] += int(p_price.isna().sum())
    problems["negative_price"] = int((p_price < 0).sum())
    problems["invalid_promo"] = int((~p_promo.isin([0, 1])).sum())
    sales_skus = pd.Index(sku.unique())
    problems["unknown_sku"] = int((~pd.Index(p_sku.unique()).isin(sales_skus)).sum())
    products = pd.read_csv(os.path.join(inp, "products.csv"), dtype={"sku": str, "category": str, "brand": str})
    events = pd.read_csv(os.path.join(inp, "events.csv"), dtype=str)
    valid_dates = date.dropna()
    weekdays = valid_dates.dt.dayofweek.unique()
    if len(weekdays) == 1 and (valid_dates.max() - valid_dates.min()).days >= 21:
        problems["frequency_mismatch"] = 1
    total = sum(problems.values())
    if total:
        raise SystemExit(f"validation found {total} problems: {problems}")
    start, end = valid_dates.min(), valid_dates.max()
    future_end = end + pd.Timedelta(days=horizon)
    lap("validate")

    # --- transform_sales: sum duplicates, floor at zero, fill the calendar between first and last sale ---
    sales = pd.DataFrame({"sku": sku.astype("category"), "date": date, "quantity": quantity, "revenue": revenue})
    del sku, date, quantity, revenue
    agg = sales.groupby(["sku", "date"], observed=True, sort=False)[["quantity", "revenue"]].sum().clip(lower=0)
    del sales
    spans = agg[agg["quantity"] > 0].reset_index().groupby("sku", observed=True)["date"].agg(["min", "max"])
    keys, days = grid(spans["min"].to_numpy(), spans["max"].to_numpy(), spans.index.to_numpy())
    index = pd.MultiIndex.from_arrays([pd.Categorical(keys, categories=agg.index.levels[0]), days], names=["sku", "date"])
    filled = agg.reindex(index, fill_value=0.0).reset_index()
    del agg
    filled.to_pickle(os.path.join(out, "sales.pkl"))
    lap("transform_sales")

    # --- transform_products ---
    products = products.drop_duplicates("sku", keep="last")
    products["category"] = products["category"].fillna("unknown")
    products["brand"] = products["brand"].fillna("unknown")
    products.to_pickle(os.path.join(out, "products.pkl"))

    # --- transform_prices: forward fill from each row to the next, through the horizon ---
    prices = pd.DataFrame({"sku": p_sku, "date": p_date, "price": p_price, "promo": p_promo.astype(int)})
    prices = prices.drop_duplicates(["sku", "date"], keep="last").sort_values(["sku", "date"])
    per_sku = prices.groupby("sku").agg(first=("date", "min"), last=("date", "max"))
    planned = per_sku["last"] > end
    first = per_sku["first"].clip(lower=start)
    last = np.where(planned, future_end, end)
    keys, days = grid(first.to_numpy(), last, per_sku.index.to_numpy())
    daily = pd.merge_asof(
        pd.DataFrame({"date": days, "sku": keys}).sort_values("date"),
        prices.sort_values("date"),
        on="date",
        by="sku",
        direction="backward",
    )
    history_prices = prices[prices["date"] <= end]
    regular = history_prices[history_prices["promo"] == 0].groupby("sku")["price"].last()
    carried = history_prices.groupby("sku")["price"].last()
    carry = carried[~planned.reindex(carried.index, fill_value=False)]
    carry = regular.reindex(carry.index).fillna(carry)
    keys, days = grid(
        np.full(len(carry), end + pd.Timedelta(days=1)), np.full(len(carry), future_end), carry.index.to_numpy()
    )
    carried_rows = pd.DataFrame({"date": days, "sku": keys, "price": np.repeat(carry.to_numpy(), horizon), "promo": 0})
    prices_daily = pd.concat([daily, carried_rows], ignore_index=True)
    prices_daily.to_pickle(os.path.join(out, "prices.pkl"))
    del daily, carried_rows

    # --- transform_events: the calendar ---
    calendar = pd.DataFrame({"date": pd.date_range(start, future_end, freq="D")})
    ev = events.assign(date=pd.to_datetime(events["date"]))
    ev = ev[(ev["date"] >= start) & (ev["date"] <= future_end)].drop_duplicates()
    per_day = ev.groupby("date").agg(
        n=("event", "size"),
        holiday=("kind", lambda k: int((k.str.lower() == "holiday").any())),
        events=("event", lambda e: "+".join(sorted(set(e)))),
    )
    calendar = calendar.merge(per_day, left_on="date", right_index=True, how="left")
    calendar["is_event"] = (calendar["n"].fillna(0) > 0).astype(int)
    calendar["is_holiday"] = calendar["holiday"].fillna(0).astype(int)
    calendar["events"] = calendar["events"].fillna("none")
    calendar["day_of_week"] = calendar["date"].dt.dayofweek
    calendar["day_of_month"] = calendar["date"].dt.day
    calendar["week_of_year"] = calendar["date"].dt.isocalendar().week.astype(int)
    calendar["month"] = calendar["date"].dt.month
    calendar["is_future"] = (calendar["date"] > end).astype(int)
    calendar = calendar.drop(columns=["n", "holiday"])
    calendar.to_pickle(os.path.join(out, "calendar.pkl"))
    lap("transform_other")

    # --- segment ---
    g = filled.groupby("sku", observed=True)
    seg = g.agg(
        first_date=("date", "min"),
        last_sale_date=("date", "max"),
        periods=("quantity", "size"),
        volume=("quantity", "sum"),
        revenue=("revenue", "sum"),
    )
    nonzero = filled[filled["quantity"] > 0].groupby("sku", observed=True)["quantity"]
    seg["demand_periods"] = nonzero.size()
    seg["cv2"] = nonzero.var(ddof=0) / nonzero.mean() ** 2
    span = (seg["last_sale_date"] - seg["first_date"]).dt.days
    seg["adi"] = np.where(seg["demand_periods"] >= 2, span / (seg["demand_periods"] - 1), np.nan)
    seg.loc[seg["demand_periods"] < 2, "cv2"] = np.nan
    seg["value"] = seg["revenue"]
    seg = seg.reset_index()
    seg["sku"] = seg["sku"].astype(str)
    seg = seg.sort_values(["value", "sku"], ascending=[False, True])
    seg["share"] = seg["value"] / seg["value"].sum()
    seg["share_before"] = seg["share"].cumsum() - seg["share"]
    seg["abc_class"] = np.select(
        [seg["share_before"] < top_share, seg["share_before"] < mid_share], ["A", "B"], default="C"
    )
    seg["demand_class"] = np.select(
        [
            seg["demand_periods"] < 2,
            (seg["adi"] < adi_cut) & (seg["cv2"] < cv2_cut),
            seg["adi"] < adi_cut,
            seg["cv2"] < cv2_cut,
        ],
        ["slow", "smooth", "erratic", "intermittent"],
        default="lumpy",
    )
    seg["model_type"] = np.where(
        (seg["abc_class"] == "A") & seg["demand_class"].isin(["smooth", "erratic"]), "top_seller", "long_tail"
    )
    since = (end - seg["last_sale_date"]).dt.days
    seg["status"] = np.where(
        since > np.maximum(inactive_after, np.ceil(3 * seg["adi"].fillna(0))), "discontinued", "active"
    )
    seg = seg.sort_values("sku")
    seg.to_pickle(os.path.join(out, "segments.pkl"))
    lap("segment")

    # --- consolidate ---
    active = seg[(seg["status"] == "active") & (seg["last_sale_date"] < end)]
    keys, days = grid(
        (active["last_sale_date"] + pd.Timedelta(days=1)).to_numpy(), np.full(len(active), end), active["sku"].to_numpy()
    )
    history = pd.concat(
        [
            filled[["sku", "date", "quantity"]].assign(sku=filled["sku"].astype(str)),
            pd.DataFrame({"sku": keys, "date": days, "quantity": 0.0}),
        ],
        ignore_index=True,
    )
    del filled
    history["sku"] = history["sku"].astype("category")
    history = history.sort_values(["sku", "date"], ignore_index=True)

    first_price = prices.groupby("sku")["price"].first()
    mean_price = prices_daily[prices_daily["date"] <= end].groupby("sku")["price"].mean()
    unit = (seg.set_index("sku")["revenue"] / seg.set_index("sku")["volume"]).where(seg.set_index("sku")["volume"] > 0)
    statics = seg.set_index("sku")[["model_type", "demand_class", "status"]].join(
        products.set_index("sku")[["category", "brand", "pack_size"]], how="left"
    )
    statics["category"] = statics["category"].fillna("unknown")
    statics["brand"] = statics["brand"].fillna("unknown")
    statics["pack_size"] = statics["pack_size"].fillna(statics["pack_size"].median())
    statics["fallback_price"] = first_price.reindex(statics.index).fillna(unit).fillna(0.0)
    statics["reference_price"] = (
        mean_price.reindex(statics.index).fillna(first_price.reindex(statics.index)).fillna(unit).fillna(0.0)
    )
    statics.index = statics.index.astype(str)

    def known(frame):
        frame = frame.merge(prices_daily, on=["sku", "date"], how="left")
        frame = frame.merge(calendar.drop(columns=["events", "is_future"]), on="date", how="left")
        # Per-SKU values spread by the categorical codes: no string lookups per row.
        codes = frame["sku"].cat.codes.to_numpy()
        st = statics.reindex(frame["sku"].cat.categories.astype(str))
        for column in ["category", "brand", "demand_class", "pack_size", "model_type"]:
            frame[column] = st[column].to_numpy()[codes]
        frame["price"] = frame["price"].fillna(pd.Series(st["fallback_price"].to_numpy()[codes], index=frame.index))
        reference = st["reference_price"].to_numpy()[codes]
        frame["price_ratio"] = np.where(reference > 0, frame["price"] / np.where(reference > 0, reference, 1), 1.0)
        frame["promo"] = frame["promo"].fillna(0).astype(int)
        frame["time_idx"] = (frame["date"] - start).dt.days
        return frame

    prices_daily["sku"] = prices_daily["sku"].astype(history["sku"].dtype)
    history = known(history)
    q = history["quantity"]
    by = history.groupby("sku", observed=True, sort=False)
    position = by.cumcount()
    for k in (1, 7, 28):
        history[f"lag_{k}"] = by["quantity"].shift(k).fillna(0.0)
    before = history.assign(s=by["quantity"].cumsum() - q, ss=(q * q).groupby(history["sku"], observed=True).cumsum() - q * q)
    before["z"] = (q == 0).astype(float).groupby(history["sku"], observed=True).cumsum() - (q == 0)
    shifted = before.groupby("sku", observed=True, sort=False)[["s", "ss", "z"]]
    for k in (7, 28):
        lagged = shifted.shift(k).fillna(0.0)
        count = np.minimum(position, k).to_numpy()
        denominator = np.where(count > 0, count, 1)
        window_sum = (before["s"] - lagged["s"]).to_numpy()
        history[f"rolling_mean_{k}"] = np.where(count > 0, window_sum / denominator, 0.0)
        if k == 28:
            mean = window_sum / denominator
            variance = (before["ss"] - lagged["ss"]).to_numpy() / denominator - mean * mean
            history["rolling_std_28"] = np.where(count > 0, np.sqrt(np.maximum(variance, 0)), 0.0)
            history["zero_share_28"] = np.where(count > 0, (before["z"] - lagged["z"]).to_numpy() / denominator, 0.0)
    del before, shifted
    columns = [
        "sku", "date", "time_idx", "quantity", "category", "brand", "demand_class", "pack_size",
        "price", "price_ratio", "promo", "is_event", "is_holiday", "day_of_week", "day_of_month", "week_of_year",
        "month", "lag_1", "lag_7", "lag_28", "rolling_mean_7", "rolling_mean_28", "rolling_std_28", "zero_share_28",
    ]  # fmt: skip
    rows = {}
    for model_type in ("top_seller", "long_tail"):
        part = history.loc[history["model_type"] == model_type, columns]
        part.to_pickle(os.path.join(out, f"{model_type}.pkl"))
        rows[model_type] = len(part)
    future_days = calendar[calendar["is_future"] == 1]["date"]
    active_skus = statics.index[statics["status"] == "active"]
    future = pd.DataFrame(
        {
            "sku": np.repeat(active_skus.to_numpy(), len(future_days)),
            "date": np.tile(future_days.to_numpy(), len(active_skus)),
        }
    )
    future["sku"] = future["sku"].astype(history["sku"].dtype)
    future = known(future)
    future_columns = ["sku", "model_type", "date", "time_idx"] + columns[4:8] + columns[8:17]
    future[future_columns].to_pickle(os.path.join(out, "future.pkl"))
    rows["future"] = len(future)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"rows": rows, "start": str(start.date()), "end": str(end.date())}, f)
    lap("consolidate")
    print(json.dumps({"rows": rows, "seconds": timings}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
