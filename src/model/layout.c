/* layout.c -- the object layout: d for an object's size, and the read order of its replicas. */
#include "layout.h"

int layout_data_chunks(uint64_t size, uint64_t small_object_max, int d)
{
    return size <= small_object_max ? 1 : d;
}

int layout_read_slot(uint64_t version, int n, int k)
{
    return (int)((version + (uint64_t)k) % (uint64_t)n);
}
