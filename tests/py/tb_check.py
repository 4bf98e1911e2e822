"""Checks snnfit's TensorBoard event files (decoded by tb_events: CRCs, framing, canonical protobuf).

  tb_check.py expect DIR EXPECT.json
      The events of DIR's event files (in file-name order) are exactly the list in EXPECT.json, each
      item one of
        {"step": s, "file_version": "brain.Event:2"}        (each file's first event)
        {"step": s, "session_start": true}
        {"step": s, "scalars": [[tag, "value"], ...]}      (value as a C "%.17g" string; compared
                                                            as float32, bit for bit, NaN = NaN)
        {"step": s, "image": {"tag": t, "png": path, "width": w, "height": h, "colorspace": c}}
        {"step": s, "text": {"tag": t, "file": path, "fenced": 0|1}}   (the text is the file's
                                                            content, inside a code fence if fenced)
  tb_check.py run OUT
      A training stage's output folder: for every row of OUT/training_metrics.csv one scalar event at
      step = epoch with every non-empty column (tag = column name, float32 of the value); every
      OUT/figures/epoch_XXXX/NAME.png an image "figures/NAME" at step XXXX with the file's bytes;
      every OUT/{initial,final}_state/figures/NAME.png an image "{initial,final}_state/NAME"; the text
      "parameters" = OUT/parameters.toml in a code fence. Where a step was written twice (a resumed
      run), the last event counts, as in TensorBoard.
Exit status 0 when everything matches; otherwise the first mismatch is printed and the status is 1.
"""
import csv
import glob
import json
import os
import sys
import time

import tb_events as tbe


def fail(msg):
    print('tb_check: FAIL: ' + msg)
    sys.exit(1)


def all_events(folder):
    out = []
    now = time.time()
    for path in tbe.event_files(folder):
        evs = tbe.read_file(path)
        tbe.check_file_header(path, evs)
        last = 0.0
        for ev in evs:
            # wall_time comes from the clock: recent and never going backwards within a file
            if not (now - 86400 < ev.wall_time < now + 60):
                fail(f'{path}: wall_time {ev.wall_time} is not the current time')
            if ev.wall_time < last:
                fail(f'{path}: wall_time goes backwards')
            last = ev.wall_time
        out.extend((path, ev) for ev in evs)
    return out


def check_expect(folder, expect_path):
    expected = json.load(open(expect_path))['events']
    got = all_events(folder)
    if len(got) != len(expected):
        fail(f'{len(got)} events, expected {len(expected)}')
    for i, ((path, ev), ex) in enumerate(zip(got, expected)):
        where = f'event {i} ({os.path.basename(path)})'
        if ev.step != ex['step']:
            fail(f'{where}: step {ev.step}, expected {ex["step"]}')
        what = ev.WhichOneof('what')
        if 'file_version' in ex:
            if what != 'file_version' or ev.file_version != ex['file_version']:
                fail(f'{where}: expected file_version')
        elif 'session_start' in ex:
            if what != 'session_log' or ev.session_log.status != tbe.pb.SessionLog.START:
                fail(f'{where}: expected session_log START')
        elif 'scalars' in ex:
            if what != 'summary':
                fail(f'{where}: expected a summary')
            vals = ev.summary.value
            if len(vals) != len(ex['scalars']):
                fail(f'{where}: {len(vals)} values, expected {len(ex["scalars"])}')
            for v, (tag, s) in zip(vals, ex['scalars']):
                if v.tag != tag or v.WhichOneof('value') != 'simple_value':
                    fail(f'{where}: value {v.tag!r}, expected simple_value {tag!r}')
                if not tbe.same_f32(v.simple_value, float(s)):
                    fail(f'{where}: {tag} = {v.simple_value!r}, expected float32({s}) = {tbe.f32(float(s))!r}')
        elif 'image' in ex:
            im = ex['image']
            if what != 'summary' or len(ev.summary.value) != 1:
                fail(f'{where}: expected one image value')
            v = ev.summary.value[0]
            if v.tag != im['tag'] or v.WhichOneof('value') != 'image':
                fail(f'{where}: {v.tag!r} is not the image {im["tag"]!r}')
            got_im = v.image
            if (got_im.width, got_im.height, got_im.colorspace) != (im['width'], im['height'], im['colorspace']):
                fail(f'{where}: image {got_im.width}x{got_im.height} colorspace {got_im.colorspace}, expected '
                     f'{im["width"]}x{im["height"]} colorspace {im["colorspace"]}')
            if got_im.encoded_image_string != open(im['png'], 'rb').read():
                fail(f'{where}: image bytes differ from {im["png"]}')
        elif 'text' in ex:
            tx = ex['text']
            if what != 'summary' or len(ev.summary.value) != 1:
                fail(f'{where}: expected one text value')
            v = ev.summary.value[0]
            if v.tag != tx['tag']:
                fail(f'{where}: tag {v.tag!r}, expected {tx["tag"]!r}')
            if v.metadata.data_class != tbe.pb.DATA_CLASS_TENSOR:
                fail(f'{where}: data_class {v.metadata.data_class}')
            text, problem = tbe.text_of(v)
            if problem:
                fail(f'{where}: not a text summary: {problem}')
            want = open(tx['file'], encoding='utf-8').read()
            if tx.get('fenced'):
                want = tbe.fenced(want)
            if text != want:
                fail(f'{where}: text differs:\n{text!r}\nexpected\n{want!r}')
        else:
            fail(f'bad expectation {ex!r}')
    print(f'tb_check: {len(got)} events match')


def check_run(out):
    got = all_events(os.path.join(out, 'tensorboard'))
    scalars, images, texts = {}, {}, {}
    for _, ev in got:
        if ev.WhichOneof('what') != 'summary':
            continue
        for v in ev.summary.value:
            kind = v.WhichOneof('value')
            if kind == 'simple_value':
                scalars.setdefault(ev.step, {})[v.tag] = v.simple_value
            elif kind == 'image':
                images[(v.tag, ev.step)] = v.image
            elif kind == 'tensor':
                texts[v.tag] = v
    # scalars: one per non-empty cell of every metrics row
    with open(os.path.join(out, 'training_metrics.csv'), newline='') as f:
        rows = list(csv.DictReader(f))
    if not rows:
        fail('training_metrics.csv has no rows')
    for row in rows:
        step = int(row['epoch'])
        want = {k: float(x) for k, x in row.items() if k != 'epoch' and x != ''}
        have = scalars.get(step)
        if have is None:
            fail(f'no scalars at step {step}')
        if set(have) != set(want):
            fail(f'step {step}: tags {sorted(set(have) ^ set(want))} differ between events and csv')
        for k, x in want.items():
            if not tbe.same_f32(have[k], x):
                fail(f'step {step}: {k} = {have[k]!r} in the events, {x!r} in the csv')
    n_img = 0
    for d in sorted(glob.glob(os.path.join(out, 'figures', 'epoch_*'))):
        step = int(os.path.basename(d)[len('epoch_'):])
        for png in sorted(glob.glob(os.path.join(d, '*.png'))):
            tag = 'figures/' + os.path.basename(png)[:-4]
            im = images.get((tag, step))
            if im is None:
                fail(f'no image {tag!r} at step {step}')
            if im.encoded_image_string != open(png, 'rb').read():
                fail(f'image {tag!r} at step {step} differs from {png}')
            n_img += 1
    for state in ('initial_state', 'final_state'):
        for png in sorted(glob.glob(os.path.join(out, state, 'figures', '*.png'))):
            tag = state + '/' + os.path.basename(png)[:-4]
            ims = [im for (t, _), im in images.items() if t == tag]
            if not ims:
                fail(f'no image {tag!r}')
            if ims[-1].encoded_image_string != open(png, 'rb').read():
                fail(f'image {tag!r} differs from {png}')
            n_img += 1
    if 'parameters' not in texts:
        fail('no text "parameters"')
    text, problem = tbe.text_of(texts['parameters'])
    if problem:
        fail(f'"parameters" is not a text summary: {problem}')
    if text != tbe.fenced(open(os.path.join(out, 'parameters.toml'), encoding='utf-8').read()):
        fail('text "parameters" differs from parameters.toml')
    print(f'tb_check: {len(rows)} metrics rows, {n_img} figures and the parameters match')


def main():
    if len(sys.argv) == 4 and sys.argv[1] == 'expect':
        check_expect(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == 'run':
        check_run(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == '__main__':
    try:
        main()
    except AssertionError as e:  # framing and CRC faults found by tb_events
        fail(str(e))
