/* A multithreaded allocation benchmark for bench/malloc/run.sh.
 *
 * Each of THREADS threads runs ROUNDS rounds. In a round it makes BATCH allocations of
 * varying sizes (mostly 16-512 bytes, one in 16 up to 8 KiB, as strings, nodes and buffers
 * are), freeing and reallocating a random earlier one every other step, so that the heap
 * churns; then all threads meet at a barrier and each frees the batch that its neighbour
 * allocated: frees from another thread, the case where per-thread caches either shine or fall
 * back to locks. Prints the wall time of the rounds in seconds, and a checksum that makes sure
 * the memory was really written.
 *
 * Usage: alloc [THREADS [ROUNDS [BATCH]]]  (default 4 50 20000)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int threads = 4, rounds = 50, batch = 20000;
static void ***batches; /* batches[t] is the batch thread t made this round */
static pthread_barrier_t barrier;
static uint64_t sums[256];

static uint64_t next(uint64_t *s) {
	/* xorshift64*: each thread its own sequence, the same on every run */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static size_t size_of(uint64_t r) {
	if ((r & 15) == 0)
		return 512 + (r >> 8) % (8192 - 512);
	return 16 + (r >> 8) % 497;
}

static void *worker(void *arg) {
	int id = (int)(intptr_t)arg;
	uint64_t seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(id + 1), sum = 0;
	for (int round = 0; round < rounds; round++) {
		void **mine = batches[id];
		for (int i = 0; i < batch; i++) {
			uint64_t r = next(&seed);
			size_t n = size_of(r);
			mine[i] = malloc(n);
			memset(mine[i], (int)r, n < 64 ? n : 64);
			if (i > 0 && (i & 1)) {
				int j = (int)((r >> 32) % (uint64_t)i);
				sum += ((unsigned char *)mine[j])[0];
				free(mine[j]);
				mine[j] = malloc(size_of(next(&seed)));
				((unsigned char *)mine[j])[0] = (unsigned char)j;
			}
		}
		pthread_barrier_wait(&barrier);
		void **theirs = batches[(id + 1) % threads];
		for (int i = 0; i < batch; i++) {
			sum += ((unsigned char *)theirs[i])[0];
			free(theirs[i]);
		}
		pthread_barrier_wait(&barrier);
	}
	sums[id] = sum;
	return NULL;
}

int main(int argc, char **argv) {
	if (argc > 1) threads = atoi(argv[1]);
	if (argc > 2) rounds = atoi(argv[2]);
	if (argc > 3) batch = atoi(argv[3]);
	if (threads < 1 || threads > 256 || rounds < 1 || batch < 2) {
		fprintf(stderr, "usage: alloc [THREADS(1-256) [ROUNDS [BATCH(>=2)]]]\n");
		return 2;
	}
	batches = calloc((size_t)threads, sizeof *batches);
	for (int t = 0; t < threads; t++)
		batches[t] = calloc((size_t)batch, sizeof **batches);
	pthread_barrier_init(&barrier, NULL, (unsigned)threads);
	pthread_t *tids = calloc((size_t)threads, sizeof *tids);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int t = 0; t < threads; t++)
		if (pthread_create(&tids[t], NULL, worker, (void *)(intptr_t)t) != 0) {
			fprintf(stderr, "alloc: pthread_create failed\n");
			return 1;
		}
	uint64_t sum = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tids[t], NULL);
		sum += sums[t];
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f %llu\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9, (unsigned long long)sum);
	return 0;
}
