/* One intrusive doubly linked list for every list in sluice (libuv keeps one queue for
 * all of its lists too): a circular list through a head node, so inserting at either end
 * and unlinking never branch on emptiness. A node that is in no list has NULL links. */
#ifndef SLUICE_LIST_H
#define SLUICE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct sl_link {
    struct sl_link *prev;
    struct sl_link *next;
};

/* The struct that contains `ptr` as its member `member`. */
#define sl_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void sl_list_init(struct sl_link *head)
{
    head->prev = head->next = head;
}

static inline bool sl_list_empty(const struct sl_link *head)
{
    return head->next == head;
}

static inline bool sl_link_linked(const struct sl_link *node)
{
    return node->next != NULL;
}

/* The first or last node, or NULL when the list is empty. */
static inline struct sl_link *sl_list_first(const struct sl_link *head)
{
    return head->next == head ? NULL : head->next;
}

static inline struct sl_link *sl_list_last(const struct sl_link *head)
{
    return head->prev == head ? NULL : head->prev;
}

/* The node after `node`, or NULL at the end of the list headed by `head`. */
static inline struct sl_link *sl_list_next(const struct sl_link *head, const struct sl_link *node)
{
    return node->next == head ? NULL : node->next;
}

static inline void sl_list_insert_between(struct sl_link *node, struct sl_link *prev,
                                          struct sl_link *next)
{
    node->prev = prev;
    node->next = next;
    prev->next = node;
    next->prev = node;
}

static inline void sl_list_push_back(struct sl_link *head, struct sl_link *node)
{
    sl_list_insert_between(node, head->prev, head);
}

static inline void sl_list_push_front(struct sl_link *head, struct sl_link *node)
{
    sl_list_insert_between(node, head, head->next);
}

/* Takes node out of its list (a no-op when it is in none). */
static inline void sl_list_remove(struct sl_link *node)
{
    if (!node->next)
        return;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = NULL;
}

#endif
