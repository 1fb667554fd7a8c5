//! The arithmetic of a report: seat spans and waits turned into per-bucket figures (peak
//! concurrency by a sweep over span ends, seat time by overlap).

use chrono::{DateTime, TimeDelta, Utc};

/// A seat held from `start` to `end` (clipped to the period), maybe in the overdraft.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub overdraft: bool,
}

/// A wait in the queue that began in the period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Wait {
    pub joined: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    pub seated: bool,
}

/// The period cut into buckets of `step`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Buckets {
    pub from: DateTime<Utc>,
    pub step: TimeDelta,
    pub count: usize,
}

impl Buckets {
    pub fn to(&self) -> DateTime<Utc> {
        self.start(self.count)
    }

    pub fn start(&self, index: usize) -> DateTime<Utc> {
        self.from + self.step * i32::try_from(index).unwrap_or(i32::MAX)
    }

    /// The bucket holding `at` (which is in the period).
    pub fn index(&self, at: DateTime<Utc>) -> usize {
        let step = self.step.num_milliseconds().max(1);
        let offset = (at - self.from).num_milliseconds().max(0);
        usize::try_from(offset / step)
            .unwrap_or(usize::MAX)
            .min(self.count.saturating_sub(1))
    }
}

/// One bucket's figures for one key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Figures {
    pub peak_seats: u32,
    pub seat_millis: i64,
    pub overdraft_seat_millis: i64,
    pub denials: u32,
    pub queue_waits: u32,
    pub queue_waits_seated: u32,
    pub queue_wait_millis: i64,
}

impl Figures {
    pub fn is_empty(&self) -> bool {
        *self == Figures::default()
    }
}

/// Per-bucket figures of one key's spans, denials and waits.
pub(super) fn figures(
    buckets: &Buckets,
    spans: &[Span],
    denials: &[DateTime<Utc>],
    waits: &[Wait],
) -> Vec<Figures> {
    let mut out = vec![Figures::default(); buckets.count];
    if buckets.count == 0 {
        return out;
    }
    peaks(buckets, spans, &mut out);
    for span in spans.iter().filter(|s| s.end > s.start) {
        let (first, last) = (buckets.index(span.start), buckets.index(span.end));
        for (i, figures) in out.iter_mut().enumerate().take(last + 1).skip(first) {
            let overlap = (span.end.min(buckets.start(i + 1)) - span.start.max(buckets.start(i)))
                .num_milliseconds()
                .max(0);
            figures.seat_millis += overlap;
            if span.overdraft {
                figures.overdraft_seat_millis += overlap;
            }
        }
    }
    for at in denials {
        out[buckets.index(*at)].denials += 1;
    }
    for wait in waits {
        let figures = &mut out[buckets.index(wait.joined)];
        figures.queue_waits += 1;
        figures.queue_waits_seated += u32::from(wait.seated);
        figures.queue_wait_millis += (wait.ended - wait.joined).num_milliseconds().max(0);
    }
    out
}

/// The most spans open at once in each bucket. Spans are half-open, `[start, end)`: one
/// ending when another starts never counts twice, and an empty span never counts.
fn peaks(buckets: &Buckets, spans: &[Span], out: &mut [Figures]) {
    let mut edges: Vec<(DateTime<Utc>, i64)> = spans
        .iter()
        .filter(|s| s.end > s.start)
        .flat_map(|s| [(s.start, 1), (s.end, -1)])
        .collect();
    // Ends before starts at the same instant.
    edges.sort_unstable();
    let mut open: i64 = 0;
    let mut next = 0;
    for (i, figures) in out.iter_mut().enumerate() {
        let (start, end) = (buckets.start(i), buckets.start(i + 1));
        while next < edges.len()
            && (edges[next].0 < start || (edges[next].0 == start && edges[next].1 < 0))
        {
            open += edges[next].1;
            next += 1;
        }
        let mut peak = open;
        while next < edges.len() && edges[next].0 < end {
            open += edges[next].1;
            peak = peak.max(open);
            next += 1;
        }
        figures.peak_seats = u32::try_from(peak.max(0)).unwrap_or(u32::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::minutes(minutes)
    }

    fn span(start: i64, end: i64) -> Span {
        Span {
            start: t(start),
            end: t(end),
            overdraft: false,
        }
    }

    fn hourly(count: usize) -> Buckets {
        Buckets {
            from: t(0),
            step: TimeDelta::hours(1),
            count,
        }
    }

    #[test]
    fn peaks_count_spans_open_at_once_per_bucket() {
        // 0:10–0:50 and 0:30–1:30 overlap; 0:50 ends as 0:50 starts; 1:30–1:30 is empty.
        let spans = [span(10, 50), span(30, 90), span(50, 70), span(90, 90)];
        let f = figures(&hourly(3), &spans, &[], &[]);
        assert_eq!(
            f.iter().map(|f| f.peak_seats).collect::<Vec<_>>(),
            [2, 2, 0]
        );
        // Seat time: 40 + 30 + 10 min in hour 0; 30 + 10 in hour 1.
        assert_eq!(f[0].seat_millis, 80 * 60_000);
        assert_eq!(f[1].seat_millis, 40 * 60_000);
    }

    #[test]
    fn a_span_open_across_buckets_counts_in_each() {
        let long = Span {
            overdraft: true,
            ..span(-30, 150)
        };
        let f = figures(&hourly(3), &[long], &[], &[]);
        assert_eq!(
            f.iter()
                .map(|f| (f.peak_seats, f.overdraft_seat_millis / 60_000))
                .collect::<Vec<_>>(),
            [(1, 60), (1, 60), (1, 30)]
        );
    }

    #[test]
    fn denials_and_waits_fall_in_their_bucket() {
        let waits = [
            Wait {
                joined: t(5),
                ended: t(15),
                seated: true,
            },
            Wait {
                joined: t(59),
                ended: t(70),
                seated: false,
            },
            Wait {
                joined: t(61),
                ended: t(61),
                seated: false,
            },
        ];
        let f = figures(&hourly(2), &[], &[t(0), t(60), t(119)], &waits);
        assert_eq!((f[0].denials, f[1].denials), (1, 2));
        assert_eq!(
            (
                f[0].queue_waits,
                f[0].queue_waits_seated,
                f[0].queue_wait_millis
            ),
            (2, 1, 21 * 60_000)
        );
        assert_eq!((f[1].queue_waits, f[1].queue_wait_millis), (1, 0));
    }
}
