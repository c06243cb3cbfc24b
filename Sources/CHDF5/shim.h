// The HDF5 C library, with functions for the values its headers define as macros (Swift does
// not import macros that expand to expressions).
#include <hdf5.h>
#include <string.h>

static inline hid_t plexus_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t plexus_h5s_all(void) { return H5S_ALL; }
static inline hid_t plexus_h5e_default(void) { return H5E_DEFAULT; }
static inline hid_t plexus_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t plexus_h5p_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t plexus_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t plexus_h5p_group_create(void) { return H5P_GROUP_CREATE; }
static inline hid_t plexus_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t plexus_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t plexus_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t plexus_h5t_c_s1(void) { return H5T_C_S1; }
static inline size_t plexus_h5t_variable(void) { return H5T_VARIABLE; }
static inline unsigned plexus_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned plexus_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned plexus_h5f_acc_excl(void) { return H5F_ACC_EXCL; }

/// The type of the link `name` in `location` (H5L_TYPE_HARD, H5L_TYPE_SOFT, ...), or -1 when
/// it cannot be read. (H5Lget_info's struct and name changed between 1.10 and 1.12.)
static inline int plexus_h5_link_type(hid_t location, const char *name) {
  H5L_info_t info;
  if (H5Lget_info(location, name, &info, H5P_DEFAULT) < 0) return -1;
  return (int)info.type;
}

struct plexus_h5e_messages {
  char *buffer;
  size_t size;
  unsigned count;
};

static inline herr_t plexus_h5e_collect(unsigned n, const H5E_error2_t *error, void *data) {
  struct plexus_h5e_messages *messages = (struct plexus_h5e_messages *)data;
  (void)n;
  if (messages->count >= 3 || error->desc == NULL || error->desc[0] == 0) return 0;
  size_t used = 0;
  while (used < messages->size && messages->buffer[used] != 0) used++;
  if (used + 3 >= messages->size) return 0;
  if (used > 0) {
    messages->buffer[used++] = ';';
    messages->buffer[used++] = ' ';
  }
  size_t index = 0;
  while (error->desc[index] != 0 && used + 1 < messages->size) {
    messages->buffer[used++] = error->desc[index++];
  }
  messages->buffer[used] = 0;
  messages->count += 1;
  return 0;
}

/// Writes the innermost (most specific) messages of the current thread's error stack into
/// `buffer`, then clears the stack.
static inline void plexus_h5e_describe(char *buffer, size_t size) {
  if (size == 0) return;
  buffer[0] = 0;
  struct plexus_h5e_messages messages = {buffer, size, 0};
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, plexus_h5e_collect, &messages);
  H5Eclear2(H5E_DEFAULT);
}

/// Turns off libhdf5's printing of errors to standard error for the calling thread.
static inline void plexus_h5e_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

struct plexus_h5_names {
  char *buffer;
  size_t size;
  size_t used;
  unsigned count;
  unsigned limit;
  int overflow;
};

static inline herr_t plexus_h5_collect_name(
    hid_t group, const char *name, const H5L_info_t *info, void *data) {
  struct plexus_h5_names *names = (struct plexus_h5_names *)data;
  (void)group;
  (void)info;
  size_t length = strlen(name);
  if (names->count >= names->limit || length + 1 > names->size - names->used) {
    names->overflow = 1;
    return 1;
  }
  memcpy(names->buffer + names->used, name, length + 1);
  names->used += length + 1;
  names->count += 1;
  return 0;
}

/// Writes the names of the links in `group` into `buffer`, each ending in a NUL, in the order
/// libhdf5 keeps them (H5_ITER_NATIVE: a group's dense link storage is walked in its B-tree,
/// without the sorted link table whose error path in libhdf5 1.10 frees pointers it never set
/// when the storage is damaged). Returns the number of names, -1 when libhdf5 fails, -2 when
/// there are more than `limit` names or they do not fit `size` bytes.
static inline int plexus_h5_link_names(hid_t group, char *buffer, size_t size, unsigned limit) {
  struct plexus_h5_names names = {buffer, size, 0, 0, limit, 0};
  hsize_t index = 0;
  herr_t status =
      H5Literate(group, H5_INDEX_NAME, H5_ITER_NATIVE, &index, plexus_h5_collect_name, &names);
  if (names.overflow) return -2;
  if (status < 0) return -1;
  return (int)names.count;
}
