"""The original SDK's five operations with extrepo, then the errors a caller handles.

Settings come from `extrepo login`, or from EXTREPO_ADDRESS (default 127.0.0.1:50051),
EXTREPO_USERNAME and EXTREPO_API_KEY.
"""

import extrepo

name = "registry.local/quickstart/py-app"

# Add a new external repository.
repository = extrepo.Repository.create(name=name, username="puller", password="s3cret")
repository.save()
print("created", repository.resource_uri)

# List all external repositories (every page).
print("listed", [r.name for r in extrepo.Repository.list()])

# Get an external repository's details.
repository = extrepo.Repository.fetch(name)
print("fetched", repository.name, "in_use:", repository.in_use)

# Update its credentials: only what changed is sent (here the password).
repository.password = "n3w-s3cret"
repository.save()
print("updated", repository.name)

# Remove it; the repository on the registry itself is untouched.
repository.delete()
print("deleted", name)

try:
    extrepo.Repository.fetch(name)
except extrepo.NotFound as error:
    print("not found:", error.message)

try:
    extrepo.Repository.create(name="UBUNTU", username="puller", password="s3cret").save()
except extrepo.InvalidArgument as error:
    for violation in error.field_violations:
        print("refused:", violation.field, "-", violation.description)
