"""Code forges (GitHub, GitLab): where a pipeline runs, and the one sticky plan comment per pull request.

Below the engine and beside the cloud client: it knows nothing of plans, only of comments and CI variables,
and it reads the environment only from a mapping it is given.
"""
