/* placeholder: being written */
typedef int nd_placeholder_router;
