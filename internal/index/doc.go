// Package index turns binary descriptors into visual words and finds the
// stored documents (targets) whose words best match a query image.
//
// It has two halves. A Vocabulary is a hierarchical k-majority tree over
// 256-bit descriptors (a vocabulary tree in the sense of Nistér and
// Stewénius, with bitwise-majority centroids as in DBoW2): Lookup quantises a
// descriptor to a leaf word in a few dozen Hamming distances. An Index is an
// inverted file from words to documents with tf-idf scoring; it shortlists the
// documents that geometric verification then checks.
//
// Both are built for databases of 10⁵–10⁶ documents: postings are 8 bytes,
// queries touch only the postings of the query words and allocate nothing
// proportional to the database, and removals are tombstones swept lazily in
// bounded steps so that no write holds the lock for long.
package index
