//! Runs an [`OutputSet`] on a fixed pool of encoding threads so that Parquet
//! encoding overlaps with decoding and merging, and an output's columns are
//! encoded in parallel; or, with one thread, on the caller's. The channel is
//! bounded, so at most a few merged batches are in flight (MS-7).

use super::commit::Sealed;
use super::rows::Rows;
use super::set::OutputSet;
use crate::input::ChunkSource;
use crate::key::KeyValue;
use crate::{Error, Result};
use arrow_array::RecordBatch;
use parquet::file::metadata::ParquetMetaData;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Batches in flight between the merge and the encoder.
const IN_FLIGHT: usize = 4;

enum Command {
    /// Merged rows, and how many of them start a new series.
    Write(Rows, u64),
    Observe(RecordBatch, u64),
    CopyRowGroup {
        chunks: ChunkSource,
        source: PathBuf,
        metadata: Arc<ParquetMetaData>,
        index: usize,
    },
    NotePrefix(Vec<KeyValue>),
    FlushRowGroup,
    FinishCurrent,
    Seal,
}

/// Handle to the outputs: on the encoding pool, or inline. Dropping it without
/// [`seal`](Self::seal) stops the pool and removes every file the run created
/// before returning.
pub struct OutputSink {
    /// The outputs themselves when they are written on the caller's thread.
    inline: Option<OutputSet>,
    sender: Option<SyncSender<Command>>,
    thread: Option<JoinHandle<Result<Sealed>>>,
}

/// Carry out one command (`Seal` excepted).
fn apply(outputs: &mut OutputSet, command: Command) -> Result<()> {
    match command {
        Command::Write(rows, series) => outputs.write(&rows, series),
        Command::Observe(batch, series) => outputs.observe(&batch, series),
        Command::CopyRowGroup {
            chunks,
            source,
            metadata,
            index,
        } => outputs.copy_row_group(&source, &chunks, &metadata, index),
        Command::NotePrefix(p) => outputs.note_prefix(&p),
        Command::FlushRowGroup => outputs.flush_row_group(),
        Command::FinishCurrent => outputs.finish_current(),
        Command::Seal => Err(Error::Internal("seal sent as a command".into())),
    }
}

fn serve(mut outputs: OutputSet, commands: Receiver<Command>) -> Result<Sealed> {
    for command in commands {
        match command {
            Command::Seal => return outputs.seal(),
            command => apply(&mut outputs, command)?,
        }
    }
    // Sender dropped without a commit: `outputs` is dropped here and cleans up.
    Err(Error::Cancelled)
}

impl OutputSink {
    /// Write `outputs` with `threads` threads besides the caller's (at least
    /// one; 0: on the caller's thread). The pool is started here, once per run;
    /// its first thread serves the commands and every thread of it encodes
    /// columns (see `OutputFileWriter::write_rows`).
    pub fn spawn(outputs: OutputSet, threads: usize) -> Result<Self> {
        if threads == 0 {
            return Ok(OutputSink {
                inline: Some(outputs),
                sender: None,
                thread: None,
            });
        }
        let cannot = |e: &dyn std::fmt::Display| {
            Error::Internal(format!("cannot start the encoding threads: {e}"))
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("prefix-merge-encode-{i}"))
            .build()
            .map_err(|e| cannot(&e))?;
        let (sender, receiver) = sync_channel(IN_FLIGHT);
        // A plain thread waits on the pool, so that a panic there comes back
        // through `join` as an error instead of aborting the process.
        let thread = std::thread::Builder::new()
            .name("prefix-merge-writer".into())
            .spawn(move || pool.install(|| serve(outputs, receiver)))
            .map_err(|e| cannot(&e))?;
        Ok(OutputSink {
            inline: None,
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    fn send(&mut self, command: Command) -> Result<()> {
        if let Some(outputs) = self.inline.as_mut() {
            return apply(outputs, command);
        }
        let delivered = self
            .sender
            .as_ref()
            .is_some_and(|s| s.send(command).is_ok());
        if delivered {
            return Ok(());
        }
        // The writer stopped: its error explains why.
        match self.join() {
            Err(e) => Err(e),
            Ok(_sealed) => Err(Error::Cancelled), // dropped here: removes its files
        }
    }

    fn join(&mut self) -> Result<Sealed> {
        self.sender = None;
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| Error::Internal("the writer thread panicked".into()))?,
            None => Err(Error::Cancelled),
        }
    }

    /// Append merged rows to the current output; `series_starts` of them start a
    /// new series (the merge knows from its keys).
    pub fn write(&mut self, rows: Rows, series_starts: u64) -> Result<()> {
        self.send(Command::Write(rows, series_starts))
    }

    /// Account for the sort columns of rows copied verbatim (summary only).
    pub fn observe(&mut self, batch: RecordBatch, series_starts: u64) -> Result<()> {
        self.send(Command::Observe(batch, series_starts))
    }

    /// Copy row group `index` of `source` verbatim into the current output.
    pub fn copy_row_group(
        &mut self,
        source: PathBuf,
        chunks: ChunkSource,
        metadata: Arc<ParquetMetaData>,
        index: usize,
    ) -> Result<()> {
        self.send(Command::CopyRowGroup {
            source,
            chunks,
            metadata,
            index,
        })
    }

    /// Record a region's prefix values in the current output's summary.
    pub fn note_prefix(&mut self, prefix: Vec<KeyValue>) -> Result<()> {
        self.send(Command::NotePrefix(prefix))
    }

    /// Close the row group in progress.
    pub fn flush_row_group(&mut self) -> Result<()> {
        self.send(Command::FlushRowGroup)
    }

    /// Close the current output file.
    pub fn finish_current(&mut self) -> Result<()> {
        self.send(Command::FinishCurrent)
    }

    /// Finish the last output and hand the sealed outputs (complete, durable, not
    /// yet visible) back to the caller, which publishes them.
    pub fn seal(mut self) -> Result<Sealed> {
        if let Some(outputs) = self.inline.take() {
            return outputs.seal();
        }
        self.send(Command::Seal)?;
        self.join()
    }
}

impl Drop for OutputSink {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.join();
        }
    }
}
