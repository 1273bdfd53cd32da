//! Time of `text::prepare` on 5 MB ticket bodies built to hurt it: nothing but `<`, repeated
//! unclosed `<script` and `<!--` (each once made the old HTML stripper search the rest of the
//! text, minutes for a megabyte), an ordinary HTML mail grown to 5 MB, and 5 MB of random bytes.
//! Preparation reads a fixed budget of each body, so all should take about the same short time
//! as one of normal size. Run with `cargo bench --bench text`.

use criterion::{criterion_group, criterion_main, Criterion};
use ticketlens::text::prepare;

const BODY_BYTES: usize = 5 << 20;

fn repeated(head: &str, unit: &str) -> Vec<u8> {
    let mut body = head.to_owned();
    body.push_str(&unit.repeat(BODY_BYTES / unit.len()));
    body.into_bytes()
}

fn random_bytes() -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..BODY_BYTES)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

fn html_mail() -> Vec<u8> {
    // What Outlook sends: a head of CSS in a comment, then paragraphs with inline markup.
    let head = "<html><head><style><!-- p.MsoNormal {margin:0cm; font-size:11.0pt; \
                font-family:\"Calibri\",sans-serif;} --></style></head><body lang=EN-US>";
    let paragraph = "<p class=MsoNormal>Hello,<o:p></o:p></p><p class=MsoNormal>Since this \
                     morning the printer on the <b>3rd&nbsp;floor</b> shows &quot;offline&quot; \
                     and jobs stay queued. <a href=\"https://intranet.example.com/kb/printers\">\
                     The KB article</a> did not help.<o:p></o:p></p>\r\n";
    repeated(head, paragraph)
}

fn prepare_time(c: &mut Criterion) {
    let bodies = [
        ("5 MB of <", repeated("<p>", "<")),
        ("5 MB of <script", repeated("<p>", "<script")),
        ("5 MB of <!--", repeated("<p>", "<!--")),
        ("5 MB HTML mail", html_mail()),
        ("5 MB of random bytes", random_bytes()),
    ];
    let mut group = c.benchmark_group("prepare");
    for (name, body) in &bodies {
        group.bench_function(*name, |b| {
            b.iter(|| prepare(Some(b"Printer offline"), Some(std::hint::black_box(body))))
        });
    }
    group.finish();
}

criterion_group!(benches, prepare_time);
criterion_main!(benches);
