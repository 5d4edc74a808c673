package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"casebot/connectors/salesforce/sandbox/soql"
)

// journal makes the store durable as an append-only file of JSON lines, one line per committed
// transaction holding the post-images of the records it wrote. Replaying the lines in order
// rebuilds the store.
//
// Why a journal rather than snapshots: a write costs one small append and one fsync instead of
// rewriting the whole store, a transaction (an allOrNone collection) is one line and so atomic,
// and a crash can only tear the last line, which replay detects and drops. The sandbox's data
// is small enough that the file never needs compacting.
type journal struct {
	f    *os.File
	size int64 // the length of the valid journal: where the next line goes
}

type journalLine struct {
	Records []soql.Record `json:"records"`
}

// openJournal replays the journal at path into apply and opens it for appending, creating it
// when missing. A last line cut short by a crash (no newline, or not valid JSON) was never
// acknowledged to a client: it is dropped and truncated away so the next append starts clean.
// A bad line before the last means the file was damaged otherwise, and is an error.
func openJournal(path string, apply func([]soql.Record) error, log *slog.Logger) (*journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the sandbox journal: %w", err)
	}
	good, err := replay(f, apply, log)
	if err == nil {
		err = f.Truncate(good)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("replaying the sandbox journal %s: %w", path, err)
	}
	return &journal{f: f, size: good}, nil
}

// replay applies every complete line of r and returns the offset after the last one.
func replay(r io.Reader, apply func([]soql.Record) error, log *slog.Logger) (int64, error) {
	br := bufio.NewReader(r)
	var good int64
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(bytes.TrimSpace(line)) > 0 {
				log.Warn("sandbox journal: dropping a torn last line", "line", lineNo, "bytes", len(line))
			}
			return good, nil
		}
		if err != nil {
			return 0, err
		}
		var jl journalLine
		if err := json.Unmarshal(line, &jl); err != nil {
			if _, peekErr := br.Peek(1); errors.Is(peekErr, io.EOF) {
				log.Warn("sandbox journal: dropping a torn last line", "line", lineNo, "err", err)
				return good, nil
			}
			return 0, fmt.Errorf("line %d: %w", lineNo, err)
		}
		if err := apply(jl.Records); err != nil {
			return 0, fmt.Errorf("line %d: %w", lineNo, err)
		}
		good += int64(len(line))
	}
}

// append writes one transaction and waits until it is on disk.
func (j *journal) append(recs []soql.Record) error {
	line, err := json.Marshal(journalLine{Records: recs})
	if err != nil {
		return fmt.Errorf("encoding a journal line: %w", err)
	}
	line = append(line, '\n')
	_, err = j.f.WriteAt(line, j.size)
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil {
		// Cut off whatever part of the line made it, so that the next line does not follow
		// a torn one.
		_ = j.f.Truncate(j.size)
		return fmt.Errorf("appending to the sandbox journal: %w", err)
	}
	j.size += int64(len(line))
	return nil
}

func (j *journal) close() error { return j.f.Close() }
