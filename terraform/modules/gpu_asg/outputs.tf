output "name" {
  value = aws_autoscaling_group.gpu.name
}

output "arn" {
  value = aws_autoscaling_group.gpu.arn
}

output "warm" {
  value = var.warm
}

output "serving" {
  value = var.serving
}
