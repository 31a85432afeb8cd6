output "role_arn" {
  value = aws_iam_role.orchestrator.arn
}

output "instance_profile_arn" {
  value = aws_iam_instance_profile.orchestrator.arn
}

output "policy_json" {
  description = "Compare with `standby iam-policy --config standby.toml --account-id ...`."
  value       = data.aws_iam_policy_document.orchestrator.json
}
