import type { LoggerService } from '@nestjs/common';
import type { EachBatchPayload } from 'kafkajs';
import { classifyError } from '@asana-stream/errors';

/**
 * Commits the offsets the partition batches resolved, one OffsetCommit request at a time: a
 * batch that ends while a commit is in flight gets the next one, which carries every partition
 * resolved by then. Batches do not wait for it (kafkajs' own autoCommit would hold the next
 * fetch for a round trip per batch), except at shutdown and when the partitions move, where the
 * commit must land before the member leaves.
 */
export class OffsetCommitter {
  private inFlight: Promise<void> | null = null;
  private wanted = false;
  private latest?: EachBatchPayload;
  private lastCommitAt = Date.now();

  constructor(private readonly log: LoggerService) {}

  /** Milliseconds since the last commit request ended. */
  get sinceLastCommitMs(): number {
    return Date.now() - this.lastCommitAt;
  }

  /** Settles (never rejects) once a commit that started after this call has ended. */
  commit(payload: EachBatchPayload): Promise<void> {
    this.latest = payload;
    this.wanted = true;
    this.inFlight ??= this.drain();
    return this.inFlight;
  }

  private async drain(): Promise<void> {
    try {
      while (this.wanted && this.latest) {
        this.wanted = false;
        const payload = this.latest;
        try {
          await payload.commitOffsetsIfNecessary(payload.uncommittedOffsets());
        } catch (error) {
          // Resolved offsets stay resolved: the next commit carries them. One that never lands
          // (the partition moved) means redelivery, which handlers take as a duplicate.
          this.log.debug?.({
            msg: 'offset commit failed; the next one retries it',
            error: classifyError(error).toJSON(),
          });
        } finally {
          this.lastCommitAt = Date.now();
        }
      }
    } finally {
      this.inFlight = null;
    }
  }
}
