package farm

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/hpcmap/hpcmap/mpi"
)

// A task's output up to inlineOutput bytes travels to rank 0 in its result.
// Larger output waits in a file on the rank that ran the task, and rank 0
// fetches it a piece at a time when its turn comes to be printed: rank 0's
// own at once, another rank's after the map, when the ranks are free to
// exchange messages of their own (during the map only the engine's loop
// communicates). Neither rank ever holds a large output in memory.

// kept says where a task's large output waits: on rank Rank, in its
// keeper's file, NOut bytes of standard output from Offset and then NErr
// bytes of standard error. Zero when the output travelled in the result.
type kept struct {
	Rank       int
	Offset     int64
	NOut, NErr int64
}

func (k kept) isKept() bool { return k.NOut+k.NErr > 0 }

// keeper is one rank's file of large outputs: an anonymous file, gone
// when the rank ends.
type keeper struct {
	dir string
	mu  sync.Mutex
	f   *os.File
	end int64
}

// keep copies a task's output files into the keeper (within the file
// system where it can: no bytes pass through memory).
func (k *keeper) keep(rank int, stdout *os.File, nOut int64, stderr *os.File, nErr int64) (kept, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.f == nil {
		f, err := tempFile(k.dir)
		if err != nil {
			return kept{}, err
		}
		k.f = f
	}
	out := kept{Rank: rank, Offset: k.end, NOut: nOut, NErr: nErr}
	for _, part := range []struct {
		f *os.File
		n int64
	}{{stdout, nOut}, {stderr, nErr}} {
		_, err := k.f.Seek(k.end, io.SeekStart)
		if err == nil {
			_, err = part.f.Seek(0, io.SeekStart)
		}
		if err == nil {
			_, err = io.CopyN(k.f, part.f, part.n)
		}
		if err != nil {
			return kept{}, fmt.Errorf("keeping a task's output in %s: %w", k.dir, err)
		}
		k.end += part.n
	}
	return out, nil
}

// section reads n bytes of the keeper from off.
func (k *keeper) section(off, n int64) io.Reader {
	k.mu.Lock()
	defer k.mu.Unlock()
	return io.NewSectionReader(k.f, off, n)
}

func (k *keeper) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.f != nil {
		k.f.Close()
		k.f = nil
	}
}

// Tags of the messages that fetch kept output, below the engine's.
const (
	tagFetch = 1001 // rank 0 asks: offset and length, or an offset of -1 for the end
	tagPiece = 1002 // the rank answers: the bytes, in pieces of at most pieceBytes
)

// pieceBytes is the most bytes of output in one message.
const pieceBytes = 4 << 20

// fetcher copies kept output to rank 0's writers.
type fetcher struct {
	c    mpi.Comm
	own  *keeper // rank 0's
	buf  []byte
	asks [16]byte
}

// copy writes n bytes of k's output from off (relative to k.Offset) to w.
func (ft *fetcher) copy(w io.Writer, k kept, off, n int64) error {
	if n == 0 {
		return nil
	}
	if k.Rank == 0 {
		_, err := io.Copy(w, ft.own.section(k.Offset+off, n))
		return err
	}
	if ft.c == nil {
		return fmt.Errorf("the output that rank %d kept is lost: the job failed", k.Rank)
	}
	binary.LittleEndian.PutUint64(ft.asks[:8], uint64(k.Offset+off))
	binary.LittleEndian.PutUint64(ft.asks[8:], uint64(n))
	if err := ft.c.Send(k.Rank, tagFetch, ft.asks[:]); err != nil {
		return err
	}
	// A writer's failure must not leave the rank sending: read on.
	var werr error
	for got := int64(0); got < n; {
		if _, err := ft.c.Probe(k.Rank, tagPiece); err != nil {
			return err
		}
		piece, _, _, err := ft.c.TryRecv(ft.buf, k.Rank, tagPiece)
		if err != nil {
			return err
		}
		if cap(piece) > cap(ft.buf) {
			ft.buf = piece[:0]
		}
		if len(piece) == 0 {
			return fmt.Errorf("rank %d could not read the output it kept", k.Rank)
		}
		if werr == nil {
			_, werr = w.Write(piece)
		}
		got += int64(len(piece))
	}
	return werr
}

// end tells every other rank that rank 0 wants no more output.
func (ft *fetcher) end() error {
	binary.LittleEndian.PutUint64(ft.asks[:8], ^uint64(0))
	for r := 1; r < ft.c.Size(); r++ {
		if err := ft.c.Send(r, tagFetch, ft.asks[:]); err != nil {
			return err
		}
	}
	return nil
}

// serveKept answers rank 0's requests for this rank's kept output until
// rank 0 says it is done.
func serveKept(c mpi.Comm, k *keeper) error {
	buf := make([]byte, 0, pieceBytes)
	for {
		ask, _, err := c.Recv(0, tagFetch)
		if err != nil {
			return err
		}
		if len(ask) != 16 {
			return fmt.Errorf("a request for output of %d bytes from rank 0", len(ask))
		}
		off, n := int64(binary.LittleEndian.Uint64(ask)), int64(binary.LittleEndian.Uint64(ask[8:]))
		if off < 0 {
			return nil
		}
		var r io.Reader = io.LimitReader(nil, 0)
		if k.f != nil {
			r = k.section(off, n)
		}
		for sent := int64(0); sent < n; {
			piece := buf[:min(int64(pieceBytes), n-sent)]
			if _, err := io.ReadFull(r, piece); err != nil {
				piece = piece[:0] // tells rank 0 the output is lost
				sent = n
			}
			if err := c.Send(0, tagPiece, piece); err != nil {
				return err
			}
			sent += int64(len(piece))
		}
	}
}
